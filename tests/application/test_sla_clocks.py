"""SLA clocks through the application service, on SQLite and PostgreSQL: terms applied at filing
in the same save, pauses that move the due, a reopen's new cycle, a re-apply, the watcher's
records exactly once, and the clocks read at a moment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from aggregates.business_time import Target
from aggregates.complaint import Complaint
from aggregates.errors import IllegalTransitionError, SlaRecordRefusedError
from aggregates.sla_policy import Conditions, Policy, Rule
from aggregates.vocabulary import ResolutionCode, SlaMetric, SlaState
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import (
    AwaitCustomer,
    CloseComplaint,
    CommentOnComplaint,
    FileComplaint,
    ReapplySla,
    RecordCustomerReply,
    RecordSlaBreach,
    RecordSlaWarning,
    ReopenComplaint,
)
from commands.sla_clocks import BuiltInSlaTerms
from queries.complaint_state import get_complaint, get_complaint_as_of
from tests.intake import intake
from tests.manual_clock import Clock

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
WATCHER = CommandContext(principal="sla-watcher", role="system", correlation_id="corr-watch")


def policy(version: int, first_response: str, resolution: str, *, vip: bool = False) -> Policy:
    rules = [Rule("default", Conditions(), "24x7", Target.parse(first_response),
                  Target.parse(resolution))]
    if vip:
        rules.insert(0, Rule("vip", Conditions(tier=frozenset({"vip"})), "24x7",
                             Target.parse("PT1H"), Target.parse("P1D"), at_risk_ratio=0.5))
    return Policy(version=version, rules=tuple(rules))


@pytest.fixture
def clock(app: ComplaintsApp) -> Clock:
    return Clock.installed(app, RECEIVED)


def file(app: ComplaintsApp, ctx: CommandContext, **overrides: object) -> UUID:
    body = intake(received_at=RECEIVED.isoformat(), **overrides)
    return app.file_complaint(FileComplaint.model_validate(body), ctx).complaint_id


def test_filing_applies_the_built_in_terms_in_the_same_save(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    result = app.file_complaint(
        FileComplaint.model_validate(intake(received_at=RECEIVED.isoformat())), ctx
    )
    filed, applied = app.events.get(result.complaint_id)
    assert isinstance(filed, Complaint.Filed) and isinstance(applied, Complaint.SlaApplied)
    assert result.version == 2
    assert (applied.policy_version, applied.rule, applied.calendar) == (0, "default", "24x7")
    assert (applied.first_response_target, applied.resolution_target) == ("PT4H", "P3D")
    # from received_at (the business time), not the time it was keyed in
    assert applied.first_response_due_at == RECEIVED + 4 * HOUR
    assert applied.resolution_due_at == RECEIVED + timedelta(days=3)
    assert applied.first_response_at_risk_at == RECEIVED + timedelta(hours=3.2)
    assert applied.actor == ctx.principal and applied.correlation_id == ctx.correlation_id


def test_the_first_matching_rule_of_the_plugged_in_terms_applies(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    app.sla_terms = BuiltInSlaTerms(policy(7, "PT2H", "P2D", vip=True))
    vip = get_complaint(app, file(app, ctx)).sla
    standard = get_complaint(
        app, file(app, ctx, customer={"id": "C2", "name": "N", "phone": "1"})
    ).sla
    assert vip is not None and standard is not None
    assert (vip.policy_version, vip.rule, vip.first_response.target) == (7, "vip", "PT1H")
    assert vip.first_response.due_at == RECEIVED + HOUR
    assert (standard.rule, standard.resolution.target) == ("default", "P2D")


def test_the_clocks_read_running_at_risk_and_breached_against_the_clock(
    app: ComplaintsApp, ctx: CommandContext, clock: Clock
) -> None:
    cid = file(app, ctx)
    clock.now = RECEIVED + HOUR
    first = get_complaint(app, cid).sla
    assert first is not None
    assert (first.first_response.state, first.first_response.remaining_seconds) == (
        SlaState.RUNNING, 3 * 3600,
    )
    clock.now = RECEIVED + 3.5 * HOUR
    sla = get_complaint(app, cid).sla
    assert sla is not None and sla.first_response.state == SlaState.AT_RISK
    clock.now = RECEIVED + 5 * HOUR
    sla = get_complaint(app, cid).sla
    assert sla is not None
    assert (sla.first_response.state, sla.first_response.breached_at) == (
        SlaState.BREACHED, RECEIVED + 4 * HOUR,
    )
    assert sla.resolution.state == SlaState.RUNNING


def test_an_as_of_read_reads_the_clocks_at_that_moment(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    app.sla_terms = BuiltInSlaTerms(policy(1, "PT4H", "P3D"))
    now = datetime.now(UTC)
    cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    received = get_complaint(app, cid).received_at
    soon = get_complaint_as_of(app, cid, now + HOUR).sla
    later = get_complaint_as_of(app, cid, received + 5 * HOUR).sla
    assert soon is not None and later is not None
    assert soon.first_response.state == SlaState.RUNNING
    assert later.first_response.state == SlaState.BREACHED


def test_a_customer_visible_comment_meets_first_response(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    app.handle(cid, CommentOnComplaint(body="internal note"), ctx)
    sla = get_complaint(app, cid).sla
    assert sla is not None and sla.first_response.met_at is None
    app.handle(cid, CommentOnComplaint.model_validate({"body": "hi", "visibility": "customer"}),
                ctx)
    sla = get_complaint(app, cid).sla
    assert sla is not None
    assert sla.first_response.state == SlaState.MET and sla.first_response.met_at is not None
    assert sla.first_response.remaining_seconds is None


def test_a_wait_for_the_customer_pauses_and_moves_the_resolution_due_by_the_pause(
    app: ComplaintsApp, ctx: CommandContext, clock: Clock
) -> None:
    cid = file(app, ctx)
    clock.now = RECEIVED + 10 * HOUR
    app.handle(cid, AwaitCustomer(reason="need the order photo"), ctx)
    view = get_complaint(app, cid)
    assert view.status == "pending_customer"
    clock.now = RECEIVED + 40 * HOUR
    sla = get_complaint(app, cid).sla
    assert sla is not None
    assert (sla.resolution.state, sla.resolution.remaining_seconds) == (
        SlaState.PAUSED, 62 * 3600,
    )
    assert sla.first_response.state == SlaState.BREACHED  # first response does not pause
    app.handle(
        cid, RecordCustomerReply.model_validate({"body": "photo", "channel": "email"}), ctx
    )
    view = get_complaint(app, cid)
    assert view.status == "new" and view.sla is not None
    assert view.sla.resolution.due_at == RECEIVED + timedelta(days=3) + 30 * HOUR
    assert view.sla.resolution.state == SlaState.RUNNING
    replied = list(app.events.get(cid))[-1]
    assert isinstance(replied, Complaint.CustomerReplied)
    assert (replied.paused_seconds, replied.resumed_at) == (30 * 3600, clock.now)


def test_a_reply_without_a_wait_is_refused_and_records_nothing(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = file(app, ctx)
    reply = RecordCustomerReply.model_validate({"body": "hello", "channel": "phone"})
    with pytest.raises(IllegalTransitionError):
        app.handle(cid, reply, ctx)
    assert app.get_complaint(cid).version == 2


def test_a_reopen_starts_a_new_resolution_cycle_due_from_the_reopen(
    app: ComplaintsApp, ctx: CommandContext, clock: Clock
) -> None:
    cid = file(app, ctx)
    closing = CloseComplaint(resolution_code=ResolutionCode.RESOLVED, summary="ok")
    app.handle(cid, closing, ctx)
    sla = get_complaint(app, cid).sla
    assert sla is not None and sla.resolution.met_at is not None
    clock.now = RECEIVED + 200 * HOUR
    result = app.handle(cid, ReopenComplaint(reason="again"), ctx)
    *_, reopened, started = app.events.get(cid)
    assert isinstance(reopened, Complaint.Reopened)
    assert isinstance(started, Complaint.SlaCycleStarted)
    assert result.version == started.originator_version
    sla = get_complaint(app, cid).sla
    assert sla is not None
    assert (sla.resolution.cycle, sla.resolution.due_at, sla.resolution.state) == (
        2, clock.now + timedelta(days=3), SlaState.RUNNING,
    )


def test_a_reapply_records_the_current_terms_with_who_and_why(
    app: ComplaintsApp, ctx: CommandContext, clock: Clock
) -> None:
    cid = file(app, ctx)
    clock.now = RECEIVED + 2 * HOUR
    app.handle(cid, AwaitCustomer(reason="photo"), ctx)
    clock.now = RECEIVED + 5 * HOUR
    app.handle(
        cid, RecordCustomerReply.model_validate({"body": "ok", "channel": "web"}), ctx
    )
    app.sla_terms = BuiltInSlaTerms(policy(3, "PT8H", "P5D"))
    supervisor = CommandContext(principal="sam", role="supervisor", correlation_id="corr-sup")
    app.handle(cid, ReapplySla(reason="policy 3 for this account"), supervisor)
    applied = list(app.events.get(cid))[-1]
    assert isinstance(applied, Complaint.SlaApplied)
    assert (applied.actor, applied.reason, applied.policy_version) == (
        "sam", "policy 3 for this account", 3,
    )
    sla = get_complaint(app, cid).sla
    assert sla is not None and sla.policy_version == 3
    assert sla.first_response.due_at == RECEIVED + 8 * HOUR
    # the resolution due of this cycle, moved by the finished wait (3 hours)
    assert sla.resolution.due_at == RECEIVED + timedelta(days=5) + 3 * HOUR


def test_a_reapply_to_a_closed_complaint_is_refused(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = file(app, ctx)
    app.handle(cid, CloseComplaint(resolution_code=ResolutionCode.RESOLVED,
                                            summary="ok"), ctx)
    with pytest.raises(IllegalTransitionError):
        app.handle(cid, ReapplySla(reason="late"), ctx)


def watcher_records(app: ComplaintsApp, cid: UUID) -> list[Complaint.Event]:
    return [e for e in app.events.get(cid)
            if isinstance(e, Complaint.SlaWarned | Complaint.SlaBreached)]


@pytest.mark.parametrize(
    ("record", "command"),
    [
        (ComplaintsApp.handle,
         lambda due: RecordSlaWarning(metric=SlaMetric.FIRST_RESPONSE, cycle=1, due_at=due,
                                      warned_at=due - 0.8 * HOUR)),
        (ComplaintsApp.handle,
         lambda due: RecordSlaBreach(metric=SlaMetric.FIRST_RESPONSE, cycle=1, due_at=due,
                                     breached_at=due)),
    ],
    ids=["warning", "breach"],
)
def test_the_watcher_records_a_warning_or_breach_exactly_once(
    app: ComplaintsApp,
    ctx: CommandContext,
    record: Callable[..., object],
    command: Callable[[datetime], object],
) -> None:
    cid = file(app, ctx)
    due = RECEIVED + 4 * HOUR
    record(app, cid, command(due), WATCHER)
    with pytest.raises(SlaRecordRefusedError):
        record(app, cid, command(due), WATCHER)
    (event,) = watcher_records(app, cid)
    assert event.actor == "sla-watcher"


def test_the_watcher_cannot_breach_a_paused_clock(
    app: ComplaintsApp, ctx: CommandContext, clock: Clock
) -> None:
    cid = file(app, ctx)
    app.handle(cid, AwaitCustomer(reason="photo"), ctx)
    due = RECEIVED + timedelta(days=3)
    breach = RecordSlaBreach(metric=SlaMetric.RESOLUTION, cycle=1, due_at=due, breached_at=due)
    with pytest.raises(SlaRecordRefusedError, match="paused"):
        app.handle(cid, breach, WATCHER)
    assert watcher_records(app, cid) == []
