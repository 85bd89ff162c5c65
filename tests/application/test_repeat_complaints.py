"""Repeat complaints (issue 12): the customers view, the customer-history port over it (exact
while the view lags) and the rule that links a new complaint to the same customer's or order's
open or recently closed complaints. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from aggregates.event_ids import event_id
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import (
    AssignComplaint,
    AwaitCustomer,
    CloseComplaint,
    FileComplaint,
    ReopenComplaint,
)
from commands.repeat_complaints import RepeatComplaints
from infra.bootstrap import Services
from infra.settings import Settings
from projections.customers import CUSTOMERS_COMPLAINTS, CustomersProjection
from queries.customer_history import ViewCustomerHistory
from queries.customers import get_customer
from queries.event_positions import event_position
from tests.intake import INTAKE, intake


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"repeat_complaints_enabled": True})


def file(app: ComplaintsApp, ctx: CommandContext, customer: str, order: str | None) -> UUID:
    body = intake(
        customer={**INTAKE["customer"], "id": customer},
        product={**INTAKE["product"], "order_number": order},
    )
    return app.file_complaint(FileComplaint.model_validate(body), ctx).complaint_id


def links(app: ComplaintsApp, complaint_id: UUID) -> list[tuple[UUID, str]]:
    """(linked id, reason) of each LinkedTo, checking that each names the rule and its cause."""
    found = []
    for e in app.events.get(complaint_id):
        if type(e).__name__ == "LinkedTo":
            any_e: Any = e
            assert (any_e.actor, any_e.rule) == ("automation", "repeat-complaints@v1")
            assert any_e.causation_id == str(event_id(complaint_id, 1))  # the filing
            found.append((any_e.complaint_id, any_e.reason))
    return found


def test_a_filing_is_linked_by_customer_and_by_order_while_the_view_lags(
    services: Services, app: ComplaintsApp, ctx: CommandContext
) -> None:
    runner = services.runner(["customers"])
    first = file(app, ctx, "CUST-A", "SO-1")
    runner.catch_up()  # ``first`` is in the view; everything below is in its tail only
    other = file(app, ctx, "CUST-B", "SO-2")
    same_order = file(app, ctx, "CUST-C", "SO-1")
    same_customer = file(app, ctx, "CUST-A", "SO-3")

    assert links(app, first) == links(app, other) == []
    assert links(app, same_order) == [(first, "same order")]
    assert links(app, same_customer) == [(first, "same customer")]
    both = file(app, ctx, "CUST-A", "SO-1")  # newest first, each once
    assert links(app, both) == [
        (same_customer, "same customer"), (same_order, "same order"), (first, "same customer")
    ]
    runner.catch_up()  # the same answer from the view alone
    history = app.customer_history.prior("CUST-A", "SO-1", app.clock() - timedelta(days=30))
    assert [p.id for p in history] == [first, same_order, same_customer, both]
    assert get_customer(services.read_models, "CUST-C", app.clock()).complaints == 1
    # The view starts over (emptied, position 0): the whole log is its tail, the same answer.
    services.read_models.reset("customers", CustomersProjection.tables)
    again = app.customer_history.prior("CUST-A", "SO-1", app.clock() - timedelta(days=30))
    assert again == history


def test_a_complaint_closed_before_the_window_is_not_linked_unless_reopened(
    services: Services, app: ComplaintsApp, ctx: CommandContext
) -> None:
    runner = services.runner(["customers"])
    closed = file(app, ctx, "CUST-A", None)
    app.handle(closed, CloseComplaint(resolution_code="resolved", summary="Done"), ctx)
    recently_closed = file(app, ctx, "CUST-A", None)
    assert links(app, recently_closed) == [(closed, "same customer")]  # within 30 days

    # Without a window, a closed complaint is closed "too long ago"; an open one still counts.
    app.reactions[:] = [RepeatComplaints(window=timedelta(0))]
    runner.catch_up()
    later = file(app, ctx, "CUST-A", None)
    assert links(app, later) == [(recently_closed, "same customer")]

    # Reopened after the view's position: the tail brings the old complaint back.
    app.handle(closed, ReopenComplaint(reason="Broken again"), ctx)
    again = file(app, ctx, "CUST-A", None)
    assert [linked for linked, _ in links(app, again)] == [later, recently_closed, closed]


def test_the_customers_view_counts_and_rebuilds_to_the_same_rows(
    services: Services, app: ComplaintsApp, ctx: CommandContext
) -> None:
    app.reactions.clear()  # the figures alone
    runner = services.runner(["customers"])
    a1, a2, a3 = (file(app, ctx, "CUST-A", f"SO-{n}") for n in range(3))
    file(app, ctx, "CUST-B", "SO-9")
    app.handle(a1, CloseComplaint(resolution_code="resolved", summary="Done"), ctx)
    app.handle(a1, ReopenComplaint(reason="Not done"), ctx)
    app.handle(a2, AssignComplaint(assignee="bob", team="east"), ctx)
    app.handle(a2, AwaitCustomer(reason="Photo"), ctx)
    app.handle(a3, CloseComplaint(resolution_code="resolved", summary="Done"), ctx)
    runner.catch_up()

    now = app.clock()
    customer = get_customer(services.read_models, "CUST-A", now)
    assert (customer.complaints, customer.open, customer.last_30_days) == (3, 2, 3)
    assert [(c.id, c.status) for c in customer.recent] == [
        (a3, "closed"), (a2, "pending_customer"), (a1, "new")
    ]
    assert customer.last_filed_at == customer.recent[0].filed_at
    assert get_customer(services.read_models, "CUST-A", now + timedelta(days=31)).last_30_days == 0

    rows = services.read_models.snapshot(CUSTOMERS_COMPLAINTS)
    assert len(rows) == 4
    runner.rebuild()
    assert services.read_models.snapshot(CUSTOMERS_COMPLAINTS) == rows
    assert get_customer(services.read_models, "CUST-A", now) == customer


def test_a_view_far_behind_is_read_only_over_the_newest_positions(
    services: Services, app: ComplaintsApp, ctx: CommandContext
) -> None:
    app.reactions.clear()
    older, newer = file(app, ctx, "CUST-A", None), file(app, ctx, "CUST-A", None)
    head = app.recorder.max_notification_id() or 0
    newer_filed = event_position(app, newer, 1)
    assert newer_filed is not None
    since = app.clock() - timedelta(days=30)

    bounded = ViewCustomerHistory(services.read_models, max_tail=head - newer_filed + 1)
    assert [p.id for p in bounded.prior("CUST-A", None, since)] == [newer]
    assert [p.id for p in app.customer_history.prior("CUST-A", None, since)] == [older, newer]


def test_the_fourth_complaint_in_30_days_is_tagged_high_attention_by_the_shipped_rule(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    """The real customer history (no view run: the log's tail alone) feeds the shipped
    ``repeat-customer`` rule: more than three complaints in 30 days, this one counted."""
    app.automation.disabled = frozenset()  # off for the other tests (tests/conftest.py)
    filed = [file(app, ctx, "CUST-H", f"SO-H{n}") for n in range(5)]
    tagged = ["high_attention" in app.get_complaint(cid).tags for cid in filed]
    assert tagged == [False, False, False, True, True]
    fourth = app.get_complaint(filed[3])
    assert len(fourth.linked) == 3  # and linked to the three before it


def test_a_customer_with_a_long_history_is_answered_its_newest_complaints_only(
    services: Services, app: ComplaintsApp, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filing's cost must not grow with the customer's history: the view answers the newest
    MAX_PRIOR (by customer and by order alike), in the view and in its tail."""
    import queries.customer_history

    monkeypatch.setattr(queries.customer_history, "MAX_PRIOR", 3)
    runner = services.runner(["customers"])
    filed = [file(app, ctx, "CUST-BIG", f"SO-{n}") for n in range(5)]
    since = app.clock() - timedelta(days=30)
    assert [p.id for p in app.customer_history.prior("CUST-BIG", None, since)] == filed[-3:]
    runner.catch_up()
    assert [p.id for p in app.customer_history.prior("CUST-BIG", "SO-0", since)] == filed[-3:]
    assert [p.id for p in app.customer_history.prior("CUST-X", "SO-0", since)] == filed[:1]


def test_a_long_tail_answers_as_the_view_caught_up(
    services: Services, app: ComplaintsApp, ctx: CommandContext
) -> None:
    """Thousands of events of other customers in the tail (the view stopped), among them a
    reopen of the asked customer's old complaint and closes of theirs: the indexed tail
    answers what the view answers once it has caught up (and each filing looks at the asked
    customer's events only: docs/performance.md)."""
    app.reactions.clear()  # the lookups alone: no links, no rules
    runner = services.runner(["customers"])
    old = file(app, ctx, "CUST-A", "SO-1")
    app.handle(old, CloseComplaint(resolution_code="resolved", summary="Done"), ctx)
    kept = file(app, ctx, "CUST-A", None)
    runner.catch_up()  # all below is in the tail only
    others = [file(app, ctx, f"CUST-O{n % 500}", f"SO-O{n}") for n in range(1_500)]
    for n, other in enumerate(others[::3]):
        app.handle(other, CloseComplaint(resolution_code="resolved", summary="Done"), ctx)
        if n % 50 == 0:
            app.handle(other, ReopenComplaint(reason="Not done"), ctx)
    app.handle(old, ReopenComplaint(reason="Broken again"), ctx)
    by_order = file(app, ctx, "CUST-Z", "SO-1")
    app.handle(kept, CloseComplaint(resolution_code="resolved", summary="Done"), ctx)
    newest = file(app, ctx, "CUST-A", "SO-2")
    asked = [
        ("CUST-A", "SO-1"), ("CUST-A", None), ("CUST-Z", "SO-1"), ("CUST-O3", "SO-O3"),
        ("CUST-O0", None), ("CUST-NEW", None),
    ]
    windows = [app.clock() - timedelta(days=30), app.clock()]  # the second: closed is too old

    def answers(history: ViewCustomerHistory) -> list[list[Any]]:
        return [list(history.prior(c, o, since)) for c, o in asked for since in windows]

    tail = answers(app.customer_history)
    assert len(app.customer_history._index.events) > 2_000
    assert [p.id for p in tail[0]] == [old, kept, by_order, newest]
    assert [p.id for p in tail[1]] == [old, by_order, newest]  # open; ``kept`` closed since
    runner.catch_up()
    caught_up = ViewCustomerHistory(services.read_models)
    assert answers(caught_up) == tail
    assert len(caught_up._index.events) == 0
