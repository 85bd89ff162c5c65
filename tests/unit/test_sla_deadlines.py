"""The application's due-time arithmetic for SLA clocks (``commands/sla_clocks.py``), on the
24x7 calendar: at-risk instants, pauses that move a due, the built-in terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregates.business_time import CALENDAR_24X7, Target
from aggregates.sla_clock import Deadline
from aggregates.sla_policy import DEFAULT_POLICY
from commands.sla_clocks import BuiltInSlaTerms, after_pauses, deadline, resumed

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("target", "ratio", "at_risk_after"),
    [
        ("PT4H", 0.2, timedelta(hours=3, minutes=12)),  # exactly 80 % used, no float residue
        ("PT4H", 0.25, 3 * HOUR),
        ("PT3S", 0.2, timedelta(seconds=3)),  # 2.4 s rounds up: at risk once 20 % or less is left
        ("PT10S", 0.5, timedelta(seconds=5)),
        ("P1D", 0.1, timedelta(hours=21, minutes=36)),
    ],
)
def test_a_clock_is_at_risk_once_its_ratio_of_the_target_is_left(
    target: str, ratio: float, at_risk_after: timedelta
) -> None:
    clock = deadline(CALENDAR_24X7, START, Target.parse(target), ratio)
    assert clock.due_at == START + timedelta(seconds=Target.parse(target).seconds,
                                             days=Target.parse(target).days)
    assert clock.at_risk_at == START + at_risk_after
    assert clock.at_risk_at <= clock.due_at


def test_a_pause_moves_the_due_and_the_at_risk_instant_by_the_paused_time() -> None:
    clock = Deadline(due_at=START + 10 * HOUR, at_risk_at=START + 8 * HOUR)
    moved, paused = resumed(CALENDAR_24X7, clock, START + HOUR, START + 4 * HOUR)
    assert paused == 3 * 3600
    assert moved == Deadline(START + 13 * HOUR, START + 11 * HOUR)


def test_an_instant_already_passed_when_the_pause_began_stays() -> None:
    clock = Deadline(due_at=START + 10 * HOUR, at_risk_at=START + 8 * HOUR)
    moved, _ = resumed(CALENDAR_24X7, clock, START + 9 * HOUR, START + 12 * HOUR)
    assert moved == Deadline(START + 13 * HOUR, START + 8 * HOUR)  # at risk before the pause
    breached, _ = resumed(CALENDAR_24X7, clock, START + 11 * HOUR, START + 12 * HOUR)
    assert breached == clock  # breached before the pause: nothing moves


def test_pausing_never_makes_a_due_earlier() -> None:
    clock = Deadline(due_at=START + 10 * HOUR, at_risk_at=START + 8 * HOUR)
    for paused_at, resumed_at in [(START, START), (START + HOUR, START), (START, START + HOUR)]:
        moved, paused = resumed(CALENDAR_24X7, clock, paused_at, resumed_at)
        assert moved.due_at >= clock.due_at and paused >= 0


def test_finished_pauses_move_a_clock_in_turn() -> None:
    clock = Deadline(due_at=START + 10 * HOUR, at_risk_at=START + 8 * HOUR)
    pauses = ((START + HOUR, START + 2 * HOUR), (START + 5 * HOUR, START + 7 * HOUR))
    assert after_pauses(CALENDAR_24X7, clock, pauses) == Deadline(
        START + 13 * HOUR, START + 11 * HOUR
    )


def test_the_built_in_terms_are_policy_version_0_on_24x7() -> None:
    policy, rule, calendar = BuiltInSlaTerms().terms_for("high", "vip", "billing", "web")
    assert (policy, rule, calendar) == (DEFAULT_POLICY, DEFAULT_POLICY.rules[0], CALENDAR_24X7)
    assert BuiltInSlaTerms().calendar("24x7", 0) == CALENDAR_24X7
    with pytest.raises(LookupError):
        BuiltInSlaTerms().calendar("office-hours", 1)
