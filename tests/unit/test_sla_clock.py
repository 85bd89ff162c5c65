"""Pure domain tests of the SLA clocks on the Complaint aggregate: the instants are given (the
application computes them), the aggregate records them and refuses what does not apply."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregates.complaint import Complaint
from aggregates.errors import IllegalTransitionError, SlaRecordRefusedError
from aggregates.provenance import Provenance
from aggregates.sla_clock import Deadline, SlaClock
from aggregates.vocabulary import SlaMetric, SlaState
from tests.unit.test_complaint import BY, RECEIVED, filed

WATCHER = Provenance(actor="sla-watcher", correlation_id="corr-w", causation_id=None)
FR, RES = SlaMetric.FIRST_RESPONSE.value, SlaMetric.RESOLUTION.value
HOUR = timedelta(hours=1)
FR_DUE = RECEIVED + 4 * HOUR
RES_DUE = RECEIVED + 72 * HOUR


def deadline(due: datetime, lead: timedelta = HOUR) -> Deadline:
    return Deadline(due_at=due, at_risk_at=due - lead)


def with_sla(**overrides: Any) -> Complaint:
    c = filed()
    terms: dict[str, Any] = {
        "policy_version": 0,
        "rule": "default",
        "calendar": "24x7",
        "calendar_version": 0,
        "first_response_target": "PT4H",
        "resolution_target": "P3D",
        "at_risk_ratio": 0.2,
        "first_response": deadline(FR_DUE),
        "resolution": deadline(RES_DUE),
        "by": BY,
    }
    terms.update(overrides)
    c.apply_sla(**terms)
    return c


def test_applied_terms_and_due_instants_are_recorded_as_given() -> None:
    c = with_sla()
    filed_event, applied = c.pending_events
    assert isinstance(filed_event, Complaint.Filed) and isinstance(applied, Complaint.SlaApplied)
    assert (applied.policy_version, applied.rule, applied.calendar) == (0, "default", "24x7")
    assert (applied.first_response_target, applied.resolution_target) == ("PT4H", "P3D")
    assert applied.first_response_due_at == FR_DUE and applied.resolution_due_at == RES_DUE
    assert applied.resolution_cycle == 1 and applied.reason is None
    assert c.sla is not None and c.sla.resolution.due_at == RES_DUE


def test_a_complaint_without_applied_terms_has_no_clocks() -> None:
    assert filed().sla is None


def test_a_customer_visible_comment_meets_first_response_and_an_internal_one_does_not() -> None:
    due = datetime(2099, 1, 1, tzinfo=UTC)
    c = with_sla(first_response=deadline(due))
    c.comment("looking", visibility="internal", by=BY)
    assert c.sla is not None and c.sla.first_response.met_at is None
    c.comment("we are on it", visibility="customer", by=BY)
    assert c.sla.first_response.met_at == c.first_response_at is not None
    assert c.sla.first_response.reading(due + HOUR).state == SlaState.MET


def test_closing_meets_resolution_and_an_unanswered_first_response() -> None:
    c = with_sla()
    c.close("resolved", "done", by=BY)
    assert c.sla is not None
    assert c.sla.resolution.met_at == c.closed_at
    assert c.sla.first_response.met_at == c.closed_at


def test_awaiting_the_customer_pauses_and_a_reply_resumes_with_the_moved_due() -> None:
    c = with_sla()
    paused_at = RECEIVED + 2 * HOUR
    c.await_customer("need the order photo", paused_at=paused_at, by=BY)
    assert c.status == "pending_customer" and c.paused_since == paused_at
    assert c.sla is not None
    reading = c.sla.resolution.reading(paused_at + 5 * HOUR, c.paused_since)
    assert reading.state == SlaState.PAUSED
    assert reading.remaining_seconds == (RES_DUE - paused_at).total_seconds()
    moved = deadline(RES_DUE + 3 * HOUR)
    c.record_customer_reply(
        "here it is", channel="email", resumed_at=paused_at + 3 * HOUR,
        paused_seconds=3 * 3600, resolution=moved, by=BY,
    )
    replied = c.pending_events[-1]
    assert isinstance(replied, Complaint.CustomerReplied)
    assert replied.paused_seconds == 10800 and replied.resolution_due_at == moved.due_at
    assert c.status == "new" and c.paused_since is None
    assert c.sla.resolution.due_at == RES_DUE + 3 * HOUR
    assert c.resolution_pauses == ((paused_at, paused_at + 3 * HOUR),)


def test_a_reply_returns_an_assigned_complaint_to_assigned() -> None:
    c = with_sla()
    c.assign("bob", by=BY)
    c.await_customer("photo", paused_at=RECEIVED, by=BY)
    c.assign("carol", by=BY)
    assert c.status == "pending_customer"  # reassigning does not end the wait
    c.record_customer_reply(
        "ok", channel="phone", resumed_at=RECEIVED, paused_seconds=0,
        resolution=deadline(RES_DUE), by=BY,
    )
    assert c.status == "assigned"


def test_waiting_twice_is_refused() -> None:
    c = with_sla()
    c.await_customer("photo", paused_at=RECEIVED, by=BY)
    with pytest.raises(IllegalTransitionError, match="already waiting"):
        c.await_customer("again", paused_at=RECEIVED, by=BY)


def test_a_reply_without_a_wait_and_a_wait_on_a_closed_complaint_are_refused() -> None:
    c = with_sla()
    with pytest.raises(IllegalTransitionError, match="not waiting"):
        c.record_customer_reply(
            "hi", channel="web", resumed_at=RECEIVED, paused_seconds=0, resolution=None, by=BY
        )
    c.close("resolved", "done", by=BY)
    with pytest.raises(IllegalTransitionError):
        c.await_customer("photo", paused_at=RECEIVED, by=BY)


def test_closing_ends_a_wait() -> None:
    c = with_sla()
    c.await_customer("photo", paused_at=RECEIVED, by=BY)
    c.close("withdrawn", "customer gave up", by=BY)
    assert c.status == "closed" and c.paused_since is None


def test_a_reopen_starts_a_new_resolution_cycle_with_its_own_due() -> None:
    c = with_sla()
    c.close("resolved", "done", by=BY)
    c.reopen("still broken", by=BY)
    reopened_at = RECEIVED + 100 * HOUR
    c.start_resolution_cycle(
        started_at=reopened_at, resolution=deadline(reopened_at + 72 * HOUR), by=BY
    )
    event = c.pending_events[-1]
    assert isinstance(event, Complaint.SlaCycleStarted)
    assert (event.metric, event.cycle) == (RES, 2)
    assert c.sla is not None
    clock = c.sla.resolution
    assert (clock.cycle, clock.due_at, clock.met_at) == (2, reopened_at + 72 * HOUR, None)
    assert c.sla.first_response.met_at is not None  # the first response stays met
    with pytest.raises(IllegalTransitionError, match="already started"):
        c.start_resolution_cycle(started_at=reopened_at, resolution=deadline(RES_DUE), by=BY)


def test_a_new_cycle_forgets_the_warning_and_breach_of_the_last() -> None:
    c = with_sla()
    c.breach_sla(RES, cycle=1, due_at=RES_DUE, breached_at=RES_DUE, by=WATCHER)
    c.close("resolved", "late", by=BY)
    c.reopen("again", by=BY)
    c.start_resolution_cycle(started_at=RES_DUE, resolution=deadline(RES_DUE + HOUR), by=BY)
    assert c.sla is not None and c.sla.resolution.breached_at is None
    c.breach_sla(RES, cycle=2, due_at=RES_DUE + HOUR, breached_at=RES_DUE + HOUR, by=WATCHER)


# ---- the deadline watcher's records: exactly once --------------------------------------------


def test_a_warning_is_recorded_once_per_metric_and_cycle() -> None:
    c = with_sla()
    c.warn_sla(FR, cycle=1, due_at=FR_DUE, warned_at=FR_DUE - HOUR, by=WATCHER)
    warned = c.pending_events[-1]
    assert isinstance(warned, Complaint.SlaWarned) and warned.actor == "sla-watcher"
    with pytest.raises(SlaRecordRefusedError, match="already warned"):
        c.warn_sla(FR, cycle=1, due_at=FR_DUE, warned_at=FR_DUE - HOUR, by=WATCHER)
    # the other metric is its own clock
    c.warn_sla(RES, cycle=1, due_at=RES_DUE, warned_at=RES_DUE - HOUR, by=WATCHER)


def test_a_breach_is_recorded_once_per_metric_and_cycle_at_the_due_instant() -> None:
    c = with_sla()
    c.breach_sla(FR, cycle=1, due_at=FR_DUE, breached_at=FR_DUE, by=WATCHER)
    breached = c.pending_events[-1]
    assert isinstance(breached, Complaint.SlaBreached) and breached.breached_at == FR_DUE
    assert c.sla is not None and c.sla.first_response.breached_at == FR_DUE
    with pytest.raises(SlaRecordRefusedError, match="already breached"):
        c.breach_sla(FR, cycle=1, due_at=FR_DUE, breached_at=FR_DUE, by=WATCHER)
    with pytest.raises(SlaRecordRefusedError, match="already breached"):
        c.warn_sla(FR, cycle=1, due_at=FR_DUE, warned_at=FR_DUE, by=WATCHER)


def test_a_breach_of_a_clock_met_in_time_is_refused() -> None:
    due = datetime(2099, 1, 1, tzinfo=UTC)
    c = with_sla(first_response=deadline(due))
    c.comment("on it", visibility="customer", by=BY)  # now: before the due
    with pytest.raises(SlaRecordRefusedError, match="was met"):
        c.breach_sla(FR, cycle=1, due_at=due, breached_at=due, by=WATCHER)


def test_a_breach_of_a_clock_met_late_is_recorded_with_its_true_time() -> None:
    # Filed long ago (an import): the reply now comes after the due instant.
    c = with_sla(first_response=deadline(datetime(2025, 1, 1, tzinfo=UTC)))
    c.comment("sorry for the wait", visibility="customer", by=BY)
    c.breach_sla(
        FR, cycle=1, due_at=datetime(2025, 1, 1, tzinfo=UTC),
        breached_at=datetime(2025, 1, 1, tzinfo=UTC), by=WATCHER,
    )
    with pytest.raises(SlaRecordRefusedError, match="was met"):
        c.warn_sla(
            FR, cycle=1, due_at=datetime(2025, 1, 1, tzinfo=UTC),
            warned_at=datetime(2025, 1, 1, tzinfo=UTC), by=WATCHER,
        )


def test_a_breach_or_warning_of_a_paused_clock_is_refused() -> None:
    c = with_sla()
    c.await_customer("photo", paused_at=RES_DUE - 2 * HOUR, by=BY)
    with pytest.raises(SlaRecordRefusedError, match="paused"):
        c.breach_sla(RES, cycle=1, due_at=RES_DUE, breached_at=RES_DUE, by=WATCHER)
    with pytest.raises(SlaRecordRefusedError, match="paused"):
        c.warn_sla(RES, cycle=1, due_at=RES_DUE, warned_at=RES_DUE - HOUR, by=WATCHER)
    # the first-response clock does not pause
    c.breach_sla(FR, cycle=1, due_at=FR_DUE, breached_at=FR_DUE, by=WATCHER)


def test_a_clock_paused_after_its_due_was_breached_before_the_pause() -> None:
    c = with_sla()
    c.await_customer("photo", paused_at=RES_DUE + HOUR, by=BY)
    assert c.sla is not None
    reading = c.sla.resolution.reading(RES_DUE + 2 * HOUR, c.paused_since)
    assert (reading.state, reading.breached_at) == (SlaState.BREACHED, RES_DUE)
    c.breach_sla(RES, cycle=1, due_at=RES_DUE, breached_at=RES_DUE, by=WATCHER)


@pytest.mark.parametrize(
    ("cycle", "due_at", "breached_at", "reason"),
    [
        (2, RES_DUE, RES_DUE, "in cycle 1, not 2"),
        (1, RES_DUE - HOUR, RES_DUE - HOUR, "is due at"),
        (1, RES_DUE, RES_DUE - timedelta(seconds=1), "before it is due"),
    ],
)
def test_a_breach_naming_another_cycle_another_due_or_an_earlier_time_is_refused(
    cycle: int, due_at: datetime, breached_at: datetime, reason: str
) -> None:
    c = with_sla()
    with pytest.raises(SlaRecordRefusedError, match=reason):
        c.breach_sla(RES, cycle=cycle, due_at=due_at, breached_at=breached_at, by=WATCHER)


def test_warning_or_breaching_a_complaint_without_clocks_is_refused() -> None:
    c = filed()
    with pytest.raises(SlaRecordRefusedError, match="no SLA clocks"):
        c.breach_sla(FR, cycle=1, due_at=FR_DUE, breached_at=FR_DUE, by=WATCHER)


def test_a_reapply_keeps_what_was_recorded_for_the_same_cycles() -> None:
    c = with_sla()
    c.comment("on it", visibility="customer", by=BY)
    c.breach_sla(RES, cycle=1, due_at=RES_DUE, breached_at=RES_DUE, by=WATCHER)
    c.apply_sla(
        policy_version=2, rule="vip", calendar="24x7", calendar_version=0,
        first_response_target="PT1H", resolution_target="P5D", at_risk_ratio=0.1,
        first_response=deadline(RECEIVED + HOUR), resolution=deadline(RECEIVED + 120 * HOUR),
        reason="VIP policy", by=BY,
    )
    applied = c.pending_events[-1]
    assert isinstance(applied, Complaint.SlaApplied) and applied.reason == "VIP policy"
    assert c.sla is not None and (c.sla.policy_version, c.sla.rule) == (2, "vip")
    assert c.sla.first_response.met_at == c.first_response_at
    assert c.sla.resolution.breached_at == RES_DUE
    assert c.sla.resolution.due_at == RECEIVED + 120 * HOUR


def test_terms_apply_to_open_complaints_only() -> None:
    c = with_sla()
    c.close("resolved", "done", by=BY)
    with pytest.raises(IllegalTransitionError, match="open complaints"):
        c.apply_sla(
            policy_version=1, rule="r", calendar="24x7", calendar_version=0,
            first_response_target="PT1H", resolution_target="P1D", at_risk_ratio=0.2,
            first_response=deadline(FR_DUE), resolution=deadline(RES_DUE), reason="x", by=BY,
        )


# ---- reading a clock ---------------------------------------------------------------------------


CLOCK = SlaClock(
    metric=SlaMetric.RESOLUTION, target="PT10H", cycle=1, due_at=RECEIVED + 10 * HOUR,
    at_risk_at=RECEIVED + 8 * HOUR,
)


@pytest.mark.parametrize(
    ("hours", "state", "remaining"),
    [
        (0, SlaState.RUNNING, 36000),
        (7.5, SlaState.RUNNING, 9000),
        (8, SlaState.AT_RISK, 7200),
        (9.999, SlaState.AT_RISK, 3),
        (10, SlaState.BREACHED, 0),
        (11, SlaState.BREACHED, 0),
    ],
)
def test_a_running_clock_reads_running_at_risk_then_breached_at_its_due(
    hours: float, state: SlaState, remaining: int
) -> None:
    reading = CLOCK.reading(RECEIVED + timedelta(hours=hours))
    assert (reading.state, reading.remaining_seconds) == (state, remaining)
    assert reading.breached_at == (CLOCK.due_at if state == SlaState.BREACHED else None)


def test_a_clock_met_late_reads_breached_at_its_due_and_one_met_in_time_met() -> None:
    met = replace(CLOCK, met_at=CLOCK.due_at).reading(RECEIVED + 20 * HOUR)
    assert (met.state, met.remaining_seconds) == (SlaState.MET, None)
    late = replace(CLOCK, met_at=CLOCK.due_at + HOUR).reading(RECEIVED + 20 * HOUR)
    assert (late.state, late.breached_at) == (SlaState.BREACHED, CLOCK.due_at)
