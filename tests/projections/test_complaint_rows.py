"""The three views that keep one row per complaint fold a batch the same way
(``projections/complaint_rows.py``): a filing makes the row, later events change it, and events of
a complaint the view has no row for are skipped."""

from __future__ import annotations

from uuid import UUID

import pytest

from aggregates.vocabulary import ResolutionCode
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, CloseComplaint, FileComplaint
from projections.analytics import ANALYTICS_CASES, AnalyticsProjection
from projections.complaint_list import COMPLAINT_LIST, ComplaintListProjection
from projections.projection import Positioned, Projection
from projections.schema import Table
from projections.store import ReadModelStore
from projections.workload import WORKLOAD_CASES, WorkloadProjection
from tests.intake import intake

CLOSE = CloseComplaint(resolution_code=ResolutionCode.RESOLVED, summary="done")
VIEWS: list[tuple[type[Projection], Table]] = [
    (ComplaintListProjection, COMPLAINT_LIST),
    (WorkloadProjection, WORKLOAD_CASES),
    (AnalyticsProjection, ANALYTICS_CASES),
]


def events_of(app: ComplaintsApp, view: Projection) -> list[Positioned]:
    """Every stored event of the view's topics, decoded, in position order."""
    notifications = app.recorder.select_notifications(1, limit=1000, topics=view.topics)
    return [Positioned(n.id, n.topic, app.mapper.to_domain_event(n)) for n in notifications]


def file(app: ComplaintsApp, ctx: CommandContext, subject: str) -> UUID:
    body = FileComplaint.model_validate(intake(subject=subject))
    return app.file_complaint(body, ctx).complaint_id


def assigned_and_closed(app: ComplaintsApp, ctx: CommandContext) -> UUID:
    """A complaint with three events: filed, assigned to bob, closed."""
    complaint = file(app, ctx, "filed in the batch")
    app.handle(complaint, AssignComplaint(assignee="bob"), ctx)
    app.handle(complaint, CLOSE, ctx)
    return complaint


def applied(app: ComplaintsApp, view: Projection, batch: list[Positioned]) -> ReadModelStore:
    """The store after ``view`` applied ``batch`` to its empty tables, in one transaction."""
    store = ReadModelStore(app)
    store.create_tables(view.tables)
    with store.write() as tx:
        view.apply(tx, batch)
    return store


@pytest.mark.parametrize(("view_class", "table"), VIEWS, ids=[v.name for v, _ in VIEWS])
def test_a_batch_skips_the_events_of_complaints_the_view_has_no_row_for(
    app: ComplaintsApp, ctx: CommandContext, view_class: type[Projection], table: Table,
) -> None:
    unknown = file(app, ctx, "filed before the view's history")
    app.handle(unknown, CLOSE, ctx)
    known = assigned_and_closed(app, ctx)
    view = view_class()
    # The batch lacks the first complaint's filing, as if it came before the view's history.
    batch = [
        p for p in events_of(app, view)
        if p.event.originator_id != unknown or p.event.originator_version > 1
    ]

    store = applied(app, view, batch)

    [row] = store.snapshot(table)
    assert row["id"] == known


def test_a_complaint_filed_in_the_batch_gets_one_row_with_all_its_changes(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    assigned_and_closed(app, ctx)
    view = ComplaintListProjection()
    batch = events_of(app, view)

    store = applied(app, view, batch)

    [row] = store.snapshot(COMPLAINT_LIST)
    # filed, SLA applied, assigned, closed, survey requested (issue 12)
    assert (row["status"], row["assignee"], row["version"]) == ("closed", "bob", 5)
    assert row["position"] == batch[-1].position
