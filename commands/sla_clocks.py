"""Where a complaint's SLA terms come from, and the due-time arithmetic the application does
before it records them (the aggregate only stores the instants it is given).

``SlaTerms`` is what the application asks: the terms for a new complaint (the policy in force,
its first matching rule and that rule's calendar, current versions) and a calendar at the version
a complaint's clocks started with. The stored, versioned configuration (``app.sla``) provides
both; until it is plugged in, ``BuiltInSlaTerms`` answers with the built-in policy version 0 on
the ``24x7`` calendar.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from math import ceil
from typing import Protocol

from aggregates.business_time import (
    CALENDAR_24X7,
    Calendar,
    Target,
    add_working_seconds,
    due_after,
    working_seconds_between,
)
from aggregates.sla_clock import Deadline
from aggregates.sla_policy import DEFAULT_POLICY, Policy, Rule


class SlaTerms(Protocol):
    def terms_for(
        self, severity: str, tier: str, category: str, channel: str
    ) -> tuple[Policy, Rule, Calendar]:
        """The policy in force, its first rule matching the complaint, the rule's calendar."""
        ...

    def calendar(self, name: str, version: int | None = None) -> Calendar:
        """The calendar ``name`` at ``version`` (the latest when ``None``); raises
        ``LookupError`` if there is no such calendar or version."""
        ...


class BuiltInSlaTerms:
    """The built-in terms: ``DEFAULT_POLICY`` (version 0) on the ``24x7`` calendar."""

    def __init__(self, policy: Policy = DEFAULT_POLICY) -> None:
        self.policy = policy

    def terms_for(
        self, severity: str, tier: str, category: str, channel: str
    ) -> tuple[Policy, Rule, Calendar]:
        rule = self.policy.rule_for(
            severity=severity, tier=tier, category=category, channel=channel
        )
        return self.policy, rule, self.calendar(rule.calendar)

    def calendar(self, name: str, version: int | None = None) -> Calendar:
        if name != CALENDAR_24X7.name or version not in (None, CALENDAR_24X7.version):
            raise LookupError(f"no calendar {name!r} at version {version}")
        return CALENDAR_24X7


def deadline(calendar: Calendar, start: datetime, target: Target, at_risk_ratio: float) -> Deadline:
    """When a clock started at ``start`` falls due, and when only ``at_risk_ratio`` of its
    target's working time is left (never after the due instant)."""
    due = due_after(calendar, start, target)
    total = working_seconds_between(calendar, start, due)
    # Exact decimal arithmetic: 0.8 x 14400 must be 11520, not 11520.000000000002 rounded up.
    used = ceil(total * (1 - Fraction(str(at_risk_ratio))))
    return Deadline(due_at=due, at_risk_at=min(due, add_working_seconds(calendar, start, used)))


def resumed(
    calendar: Calendar, clock: Deadline, paused_at: datetime, resumed_at: datetime
) -> tuple[Deadline, int]:
    """``clock`` after a pause from ``paused_at`` to ``resumed_at``, and the working seconds
    paused. Each instant still ahead when the pause began moves by the paused working time; one
    already passed stays (a clock paused after its due was breached before the pause)."""
    paused = working_seconds_between(calendar, paused_at, resumed_at)

    def moved(instant: datetime) -> datetime:
        if instant <= paused_at or paused == 0:
            return instant
        return add_working_seconds(calendar, instant, paused)

    return Deadline(due_at=moved(clock.due_at), at_risk_at=moved(clock.at_risk_at)), paused


def after_pauses(
    calendar: Calendar, clock: Deadline, pauses: tuple[tuple[datetime, datetime], ...]
) -> Deadline:
    """``clock`` moved by each of the finished ``pauses`` in turn (a re-apply recomputes the
    current resolution cycle this way)."""
    for paused_at, resumed_at in pauses:
        clock, _ = resumed(calendar, clock, paused_at, resumed_at)
    return clock
