"""The deadline watcher with an injectable clock, on SQLite and PostgreSQL: a complaint left
unanswered breaches at exactly its due instant with one breach and one escalation, also with two
watchers, after a restart and after downtime across the due; a reply in time or a pause means no
breach; critical complaints and complaints still open a day after their resolution breach
escalate, each escalation caused by the event that called for it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from aggregates.complaint import Complaint
from aggregates.event_ids import event_id
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import (
    AwaitCustomer,
    CloseComplaint,
    CommentOnComplaint,
    FileComplaint,
    RecordCustomerReply,
)
from infra.bootstrap import Services
from projections.deadlines import DeadlineWatcher
from projections.registry import build
from projections.runner import BackgroundRunner, Runner
from projections.sla import SLA
from tests.intake import intake
from tests.manual_clock import Clock
from tests.waiting import eventually

# Replies and closings are stamped with the system's time (their events' timestamps), so the
# story starts a minute ago; the injected clock then moves into the future.
RECEIVED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
HOUR = timedelta(hours=1)
FIRST_DUE = RECEIVED + 4 * HOUR  # the built-in policy: PT4H to a first response
FIRST_AT_RISK = RECEIVED + timedelta(seconds=11520)  # 20 % of PT4H left
RESOLUTION_DUE = RECEIVED + timedelta(days=3)


@pytest.fixture
def clock(app: ComplaintsApp) -> Clock:
    return Clock.installed(app, RECEIVED)


@pytest.fixture
def view(app: ComplaintsApp) -> Runner:
    return Runner(app, build(["sla"]))


def watcher(services: Services, clock: Clock) -> DeadlineWatcher:
    return DeadlineWatcher(services.app, services.read_models, clock=clock)


def file(app: ComplaintsApp, ctx: CommandContext, **overrides: Any) -> UUID:
    body = intake(**{"received_at": RECEIVED.isoformat(), **overrides})
    return app.file_complaint(FileComplaint.model_validate(body), ctx).complaint_id


def recorded(app: ComplaintsApp, cid: UUID, kind: type) -> list[Any]:
    return [e for e in app.events.get(cid) if isinstance(e, kind)]


def sla_rows(services: Services, cid: UUID) -> dict[tuple[str, int], dict[str, Any]]:
    return {
        (r["metric"], r["cycle"]): r
        for r in services.read_models.snapshot(SLA) if r["complaint_id"] == cid
    }


def at(clock: Clock, instant: datetime, view: Runner, *watchers: DeadlineWatcher) -> None:
    """The clock moves to ``instant``; the view catches up; each watcher makes one pass."""
    clock.now = instant
    view.catch_up()
    for w in watchers:
        w.run_once()
    view.catch_up()


def test_an_unanswered_complaint_breaches_at_its_due_instant_once(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cid = file(services.app, ctx)
    w = watcher(services, clock)
    at(clock, FIRST_AT_RISK - timedelta(seconds=1), view, w)
    assert recorded(services.app, cid, Complaint.SlaWarned) == []
    at(clock, FIRST_AT_RISK, view, w)
    [warned] = recorded(services.app, cid, Complaint.SlaWarned)
    assert (warned.metric, warned.warned_at, warned.actor) == (
        "first_response", FIRST_AT_RISK, "sla-watcher")
    assert sla_rows(services, cid)[("first_response", 1)]["state"] == "at_risk"

    at(clock, FIRST_DUE - timedelta(microseconds=1), view, w)
    assert recorded(services.app, cid, Complaint.SlaBreached) == []
    at(clock, FIRST_DUE, view, w)
    at(clock, FIRST_DUE + HOUR, view, w)  # later passes record nothing more

    [breach] = recorded(services.app, cid, Complaint.SlaBreached)
    assert (breach.metric, breach.cycle, breach.due_at, breach.breached_at) == (
        "first_response", 1, FIRST_DUE, FIRST_DUE)
    [escalated] = recorded(services.app, cid, Complaint.Escalated)
    assert escalated.level == 1 and escalated.actor == "sla-watcher"
    assert escalated.causation_id == str(event_id(cid, breach.originator_version))
    assert escalated.originator_version == breach.originator_version + 1  # one save
    row = sla_rows(services, cid)[("first_response", 1)]
    assert (row["state"], row["breached_at"], row["escalation_level"]) == (
        "breached", FIRST_DUE, 1)
    assert row["business_seconds"] == 4 * 3600


def test_two_watchers_record_one_breach_and_one_escalation(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cids = [file(services.app, ctx) for _ in range(5)]
    clock.now = FIRST_DUE + timedelta(seconds=1)
    view.catch_up()
    one, two = watcher(services, clock), watcher(services, clock)
    start = threading.Barrier(2)

    def race(w: DeadlineWatcher) -> None:
        start.wait()
        w.run_once()

    threads = [threading.Thread(target=race, args=(w,)) for w in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    two.run_once()  # the view has not caught up: it still lists every breach as due
    view.catch_up()
    for cid in cids:
        assert len(recorded(services.app, cid, Complaint.SlaBreached)) == 1
        assert [e.level for e in recorded(services.app, cid, Complaint.Escalated)] == [1]


def test_running_watchers_one_works_the_other_stands_by(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cid = file(services.app, ctx)
    clock.now = FIRST_DUE + timedelta(seconds=1)
    view.catch_up()
    first, second = watcher(services, clock), watcher(services, clock)
    with first, second:
        assert eventually(lambda: first.passes + second.passes > 0 and (
            first.standing_by or second.standing_by), 10)
        assert eventually(lambda: len(recorded(services.app, cid, Complaint.SlaBreached)) == 1)
        assert not (first.standing_by and second.standing_by)
    assert len(recorded(services.app, cid, Complaint.Escalated)) == 1


def test_a_restarted_watcher_records_each_deadline_once(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cid = file(services.app, ctx)
    at(clock, FIRST_DUE, view, watcher(services, clock))
    at(clock, FIRST_DUE + timedelta(seconds=5), view, watcher(services, clock))  # a new process
    assert len(recorded(services.app, cid, Complaint.SlaBreached)) == 1
    assert len(recorded(services.app, cid, Complaint.Escalated)) == 1


def test_after_downtime_missed_deadlines_get_their_true_instants(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    # Received five hours ago: both first responses fell due an hour ago while nobody watched,
    # and one was answered late meanwhile.
    received = RECEIVED - 5 * HOUR
    cid, late = (file(services.app, ctx, received_at=received.isoformat()) for _ in range(2))
    reply = CommentOnComplaint(body="Sorry for the wait", visibility="customer")
    services.app.handle(late, reply, ctx)
    at(clock, RECEIVED + timedelta(minutes=1), view, watcher(services, clock))
    due = received + 4 * HOUR
    for complaint in (cid, late):
        [breach] = recorded(services.app, complaint, Complaint.SlaBreached)
        assert (breach.due_at, breach.breached_at) == (due, due)
        assert [e.level for e in recorded(services.app, complaint, Complaint.Escalated)] == [1]
    # A missed warning is not recorded once its clock has breached.
    assert recorded(services.app, cid, Complaint.SlaWarned) == []
    rows = sla_rows(services, late)
    assert rows[("first_response", 1)]["state"] == "breached"


def test_a_customer_visible_reply_in_time_meets_the_target(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cid = file(services.app, ctx)
    reply = CommentOnComplaint(body="We are on it", visibility="customer")
    replied = services.app.handle(cid, reply, ctx).state
    at(clock, FIRST_DUE + HOUR, view, watcher(services, clock))
    assert recorded(services.app, cid, Complaint.SlaBreached) == []
    assert recorded(services.app, cid, Complaint.Escalated) == []
    row = sla_rows(services, cid)[("first_response", 1)]
    assert replied is not None and replied.first_response_at is not None
    assert (row["state"], row["met_at"]) == ("met", replied.first_response_at)
    assert row["business_seconds"] == int((row["met_at"] - RECEIVED).total_seconds())


def test_a_paused_clock_does_not_breach_while_paused(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cid = file(services.app, ctx)
    clock.now = RECEIVED + HOUR
    services.app.handle(cid, CommentOnComplaint(body="Hi", visibility="customer"), ctx)
    services.app.handle(cid, AwaitCustomer(reason="Need the order photo"), ctx)
    w = watcher(services, clock)
    at(clock, RESOLUTION_DUE + timedelta(days=1), view, w)
    assert recorded(services.app, cid, Complaint.SlaBreached) == []
    row = sla_rows(services, cid)[("resolution", 1)]
    assert (row["state"], row["paused_at"], row["business_seconds"]) == (
        "paused", RECEIVED + HOUR, 3600)

    reply = RecordCustomerReply(body="Photo attached", channel="email")
    services.app.handle(cid, reply, ctx)
    moved_due = RESOLUTION_DUE + (clock.now - (RECEIVED + HOUR))  # by the time paused
    at(clock, moved_due - timedelta(seconds=1), view, w)
    assert recorded(services.app, cid, Complaint.SlaBreached) == []
    at(clock, moved_due, view, w)
    [breach] = recorded(services.app, cid, Complaint.SlaBreached)
    assert (breach.metric, breach.breached_at) == ("resolution", moved_due)
    assert [e.level for e in recorded(services.app, cid, Complaint.Escalated)] == [2]


def test_a_resolution_still_open_a_business_day_after_its_breach_goes_to_level_3(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cid = file(services.app, ctx)
    w = watcher(services, clock)
    at(clock, FIRST_DUE, view, w)
    at(clock, RESOLUTION_DUE, view, w)
    breaches = recorded(services.app, cid, Complaint.SlaBreached)
    assert [b.metric for b in breaches] == ["first_response", "resolution"]
    at(clock, RESOLUTION_DUE + timedelta(days=1) - timedelta(seconds=1), view, w)
    assert [e.level for e in recorded(services.app, cid, Complaint.Escalated)] == [1, 2]
    at(clock, RESOLUTION_DUE + timedelta(days=1), view, w)
    at(clock, RESOLUTION_DUE + timedelta(days=2), view, w)
    escalations = recorded(services.app, cid, Complaint.Escalated)
    assert [e.level for e in escalations] == [1, 2, 3]
    assert escalations[2].causation_id == str(event_id(cid, breaches[1].originator_version))


def test_a_closed_complaint_does_not_escalate(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cid = file(services.app, ctx)
    services.app.handle(cid, CloseComplaint(resolution_code="resolved", summary="ok"), ctx)
    at(clock, RESOLUTION_DUE + timedelta(days=2), view, watcher(services, clock))
    assert recorded(services.app, cid, Complaint.SlaBreached) == []
    assert recorded(services.app, cid, Complaint.Escalated) == []
    assert {r["state"] for r in sla_rows(services, cid).values()} == {"met"}


def test_a_critical_complaint_escalates_at_once_caused_by_its_terms(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    cid = file(services.app, ctx, severity="critical")
    w = watcher(services, clock)
    at(clock, RECEIVED, view, w)
    at(clock, RECEIVED + timedelta(seconds=1), view, w)
    [escalated] = recorded(services.app, cid, Complaint.Escalated)
    [applied] = recorded(services.app, cid, Complaint.SlaApplied)
    assert (escalated.level, escalated.actor) == (1, "sla-watcher")
    assert escalated.causation_id == str(event_id(cid, applied.originator_version))
    at(clock, FIRST_DUE, view, w)  # the breach would raise it to 1: it is there already
    assert len(recorded(services.app, cid, Complaint.SlaBreached)) == 1
    assert len(recorded(services.app, cid, Complaint.Escalated)) == 1


def test_the_watcher_sleeps_until_the_next_instant(
    services: Services, ctx: CommandContext, clock: Clock, view: Runner
) -> None:
    file(services.app, ctx)
    view.catch_up()
    report = watcher(services, clock).run_once()
    assert report.wake_at == FIRST_AT_RISK and report.settled == {}


def test_a_running_watcher_passes_about_once_a_second_while_the_view_advances(
    services: Services, ctx: CommandContext, clock: Clock
) -> None:
    """Every batch of the view wakes it (in this process), but a pass starts at most once a
    second: a pass per batch cost a quarter of a serving process's CPU under load. A deadline
    the view brings is still recorded within about a second, at its own instant."""
    tailing = BackgroundRunner(Runner(services.app, build(["sla"]), poll_seconds=0.02)).start()
    w = watcher(services, clock).start()
    try:
        time.sleep(0.5)
        passes = w.passes
        until = time.monotonic() + 2.5
        while time.monotonic() < until:  # a steady stream of filings, the view advancing
            file(services.app, ctx)
            time.sleep(0.02)
        assert w.passes - passes <= 4  # about one a second, not one per batch (dozens)
        # Received five hours ago: its first response fell due an hour ago.
        late = file(services.app, ctx, received_at=(RECEIVED - 5 * HOUR).isoformat())
        assert eventually(lambda: len(recorded(services.app, late, Complaint.SlaBreached)) == 1, 5)
    finally:
        w.stop()
        tailing.stop()
    [breach] = recorded(services.app, late, Complaint.SlaBreached)
    assert breach.breached_at == RECEIVED - HOUR
