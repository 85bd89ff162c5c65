"""An event a projection cannot handle is quarantined, the view moves on, and retry applies it.

The fault is injected: a projection that raises for the events of one chosen complaint
(``tests/projections/faults.py``), as a handler bug or data it cannot make sense of would.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from aggregates.vocabulary import Visibility
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, CommentOnComplaint, FileComplaint
from infra.settings import Settings
from projections import quarantine
from projections.analytics import AnalyticsProjection
from projections.complaint_list import COMPLAINT_LIST, ComplaintListProjection
from projections.failures import ProjectionFaultError
from projections.projection import Positioned, Projection
from projections.registry import build, names
from projections.runner import BackgroundRunner, Runner
from projections.store import ReadModelStore, Tx
from tests.intake import intake
from tests.projections.faults import Refusing, refusing
from tests.waiting import eventually


def file(app: ComplaintsApp, ctx: CommandContext, subject: str) -> UUID:
    body = FileComplaint.model_validate(intake(subject=subject))
    return app.file_complaint(body, ctx).complaint_id


def listed(store: ReadModelStore) -> dict[UUID, dict[str, object]]:
    return {r["id"]: r for r in store.snapshot(COMPLAINT_LIST)}


def entries(store: ReadModelStore, name: str = "complaint_list") -> list[quarantine.Quarantined]:
    with store.read() as tx:
        return quarantine.entries(tx, name)


class History:
    """A, B (the one the fault refuses), C filed; B and A assigned; B commented; D filed."""

    def __init__(self, app: ComplaintsApp, ctx: CommandContext) -> None:
        self.a, self.b, self.c = (file(app, ctx, s) for s in ("A", "B", "C"))
        app.handle(self.b, AssignComplaint(assignee="bob"), ctx)
        app.handle(self.a, AssignComplaint(assignee="ann"), ctx)
        reply = CommentOnComplaint(body="called back", visibility=Visibility.CUSTOMER)
        app.handle(self.b, reply, ctx)
        self.d = file(app, ctx, "D")
        self.head = app.recorder.max_notification_id() or 0


@pytest.fixture
def history(app: ComplaintsApp, ctx: CommandContext) -> History:
    return History(app, ctx)


@pytest.fixture
def fault(history: History) -> Refusing:
    fault = Refusing()
    fault.refused.add(history.b)
    return fault


@pytest.fixture
def faulty(app: ComplaintsApp, report_settings: Settings, fault: Refusing) -> Runner:
    """Every projection; the case list refuses B's events."""
    complaints = refusing(ComplaintListProjection, fault)
    others = build([n for n in names() if n != ComplaintListProjection.name],
                   report_tz=report_settings.report_tz)
    return Runner(app, [complaints, *others])


def test_an_event_that_fails_on_its_own_is_quarantined_and_the_view_moves_on(
    faulty: Runner, history: History, fault: Refusing
) -> None:
    faulty.catch_up()

    assert faulty.store.positions(names()) == dict.fromkeys(names(), history.head)
    rows = listed(faulty.store)
    assert set(rows) == {history.a, history.c, history.d}
    assert rows[history.a]["assignee"] == "ann"  # events after the culprit were applied
    filed, *parked = entries(faulty.store)
    assert (filed.originator_id, filed.originator_version) == (history.b, 1)
    assert filed.topic == get_topic(Complaint.Filed)
    assert (filed.error_class, filed.error_message) == (
        "ValueError", "cannot transcribe this complaint"
    )
    assert filed.attempts == 1 and filed.parked_behind is None
    # B's later events wait behind its filing, in order, untried.
    assert [(p.originator_id, p.originator_version, p.parked_behind) for p in parked] == [
        (history.b, 2, filed.position), (history.b, 3, filed.position),
        (history.b, 4, filed.position),
    ]
    assert all(p.error_class == quarantine.PARKED and p.attempts == 0 for p in parked)
    # The other views never failed: they hold B.
    assert entries(faulty.store, "workload") == entries(faulty.store, "analytics") == []
    # The batch, then the batch again in isolation, then halving 8 events down to 1: 5 tries
    # (log2 of the batch), not one per event.
    assert fault.attempts[filed.position] <= 5


def test_a_rebuild_completes_and_quarantines_the_same_events(
    faulty: Runner, history: History
) -> None:
    faulty.catch_up()
    before = [(e.position, e.error_class, e.parked_behind) for e in entries(faulty.store)]
    faulty.bulk_page_size = 10_000
    faulty.rebuild()
    assert faulty.store.positions(names()) == dict.fromkeys(names(), history.head)
    assert [(e.position, e.error_class, e.parked_behind) for e in entries(faulty.store)] == before
    assert set(listed(faulty.store)) == {history.a, history.c, history.d}


def test_the_runner_does_not_spin_on_a_quarantined_event(
    app: ComplaintsApp, report_settings: Settings, ctx: CommandContext, fault: Refusing,
    history: History,
) -> None:
    runner = Runner(app, [refusing(ComplaintListProjection, fault)],
                    poll_seconds=0.02)
    store = runner.store
    with BackgroundRunner(runner):
        assert eventually(lambda: store.position("complaint_list") >= history.head)
        tries = sum(fault.attempts.values())
        calls = fault.calls
        for i in range(5):  # five more batches, each waking the runner
            file(app, ctx, f"later {i}")
            head = app.recorder.max_notification_id() or 0
            assert eventually(lambda h=head: store.position("complaint_list") >= h)  # type: ignore[misc]
    assert fault.calls >= calls + 5
    assert sum(fault.attempts.values()) == tries  # the quarantined events were never tried again
    assert len(listed(store)) == 3 + 5


def test_retry_keeps_what_still_fails_and_applies_it_once_the_fault_is_gone(
    faulty: Runner, history: History, fault: Refusing, app: ComplaintsApp,
    report_settings: Settings,
) -> None:
    faulty.catch_up()
    complaint_list = faulty.projections[0]
    first_failure = entries(faulty.store)[0]

    still = faulty.retry(complaint_list)

    assert (still.applied, still.parked, len(still.still_failing)) == (0, 3, 1)
    again = entries(faulty.store)[0]
    assert again.attempts == 2 and again.first_failed_at == first_failure.first_failed_at
    assert again.last_failed_at >= first_failure.last_failed_at

    fault.refused.clear()
    done = faulty.retry(complaint_list)

    assert (done.applied, done.parked, done.still_failing) == (4, 0, [])
    assert entries(faulty.store) == []
    row = listed(faulty.store)[history.b]
    # filed, SLA applied, assigned, commented: in order
    assert (row["assignee"], row["version"]) == ("bob", 4)
    assert row["first_response_at"] is not None
    # The same as a view that never failed.
    healthy = Runner(app, build(["complaint_list"], report_tz=report_settings.report_tz))
    incremental = healthy.store.snapshot(COMPLAINT_LIST)
    healthy.rebuild()
    assert healthy.store.snapshot(COMPLAINT_LIST) == incremental


def test_events_that_cannot_be_decoded_are_quarantined(
    app: ComplaintsApp, report_settings: Settings, ctx: CommandContext, history: History
) -> None:
    corrupt = StoredEvent(
        originator_id=history.c, originator_version=3,
        topic=get_topic(Complaint.Commented), state=b"{not json",
    )
    app.recorder.insert_events([corrupt])
    file(app, ctx, "after the corrupt one")
    runner = Runner(app, build(report_tz=report_settings.report_tz))

    runner.catch_up()

    head = app.recorder.max_notification_id()
    assert runner.store.positions(names()) == dict.fromkeys(names(), head)
    for name in ("complaint_list", "analytics", "workload"):  # each reads comments
        [entry] = entries(runner.store, name)
        assert (entry.originator_id, entry.originator_version) == (history.c, 3)
        assert entry.error_class.endswith("MapperDeserialisationError")
    assert len(listed(runner.store)) == 5


def transient_error(database_url: str) -> Exception:
    """What each store raises when it cannot take a lock in time."""
    if database_url.startswith("postgresql"):
        return psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
    return busy


def test_a_transient_error_quarantines_nothing_and_is_retried_with_back_off(
    app: ComplaintsApp, report_settings: Settings, history: History, database_url: str
) -> None:
    fault = Refusing(transient_error(database_url), times=4)
    fault.refused.add(history.b)
    runner = Runner(
        app, [refusing(ComplaintListProjection, fault)], poll_seconds=0.02,
        retry_base_seconds=0.05, retry_max_seconds=0.2,
    )
    with BackgroundRunner(runner):
        assert eventually(lambda: runner.store.position("complaint_list") >= history.head)
    assert entries(runner.store) == []
    assert set(listed(runner.store)) == {history.a, history.b, history.c, history.d}
    pauses = [b - a for a, b in zip(fault.raised_at, fault.raised_at[1:], strict=False)]
    assert len(pauses) == 3
    assert all(p >= wanted * 0.9 for p, wanted in zip(pauses, (0.05, 0.1, 0.2), strict=True))


class Broken(AnalyticsProjection):
    """Fails on every batch, even an empty one: its own fault (a missing table, say)."""

    def apply(self, tx: Tx, events: list[Positioned]) -> None:  # type: ignore[override]
        raise KeyError("a bug in the projection")


def test_a_projection_that_fails_even_without_events_quarantines_nothing(
    app: ComplaintsApp, report_settings: Settings, history: History
) -> None:
    broken: list[Projection] = [Broken(report_settings.report_tz)]
    runner = Runner(app, broken)
    with pytest.raises(ProjectionFaultError):
        runner.catch_up()
    assert runner.store.position("analytics") == 0
    assert entries(runner.store, "analytics") == []


def test_a_retry_while_the_worker_runs_and_commands_arrive_keeps_each_complaint_in_order(
    app: ComplaintsApp, report_settings: Settings, ctx: CommandContext, history: History,
    fault: Refusing,
) -> None:
    """New events of the quarantined complaint keep arriving during the retry: the worker parks
    them or, once the retry has committed, applies them; never before the events they follow."""
    runner = Runner(app, [refusing(ComplaintListProjection, fault)],
                    poll_seconds=0.02)
    store = runner.store
    stop = threading.Event()

    def keep_commenting() -> None:
        while not stop.is_set():
            app.handle(history.b, CommentOnComplaint(body="any news?"), ctx)
            time.sleep(0.01)

    with BackgroundRunner(runner):
        assert eventually(lambda: store.position("complaint_list") >= history.head)
        assert entries(store)
        writer = threading.Thread(target=keep_commenting)
        writer.start()
        try:
            time.sleep(0.2)
            fault.refused.clear()
            report = runner.retry(runner.projections[0])
            time.sleep(0.2)
        finally:
            stop.set()
            writer.join()
        head = app.recorder.max_notification_id() or 0
        assert eventually(lambda: store.position("complaint_list") >= head)
    assert report.applied >= 3 and report.still_failing == []
    assert entries(store) == []
    version = app.get_complaint(history.b).version
    assert listed(store)[history.b]["version"] == version > 3
