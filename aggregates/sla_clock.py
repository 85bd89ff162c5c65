"""The SLA clocks of one complaint, as its events left them (pure values, no I/O, no arithmetic
on calendars).

Every instant here was computed by the application when the event was decided (from the policy,
the rule and the calendar version then in force) and is stored in the event: replaying a history
never recomputes a due time, so a complaint keeps the terms it was filed under, and the figures
read today are the figures recorded then.

What a clock *reads* at a given moment (running, at risk, paused, met, breached) is derived from
these values and that moment (``SlaClock.reading``), never stored: a breach is true at the due
instant, whether or not the deadline watcher has recorded it yet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from aggregates.vocabulary import SlaMetric, SlaState


@dataclass(frozen=True)
class Deadline:
    """When a clock falls due, and when it becomes at risk (its at-risk share of the target is
    left). ``at_risk_at`` is never after ``due_at``."""

    due_at: datetime
    at_risk_at: datetime


@dataclass(frozen=True)
class ClockReading:
    state: SlaState
    breached_at: datetime | None
    remaining_seconds: int | None
    """Whole seconds from the moment read (a paused clock: from the pause) to the due instant,
    elapsed time; 0 once breached, ``None`` once met."""


@dataclass(frozen=True)
class SlaClock:
    """One metric's clock in its current cycle (first response: always cycle 1; resolution: one
    cycle per opening, a reopen starts the next)."""

    metric: SlaMetric
    target: str
    """The target as given in the rule (ISO 8601, e.g. ``PT4H``)."""
    cycle: int
    due_at: datetime
    at_risk_at: datetime
    met_at: datetime | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    """As recorded by the deadline watcher (``SlaBreached``): the due instant it passed."""

    @property
    def deadline(self) -> Deadline:
        return Deadline(self.due_at, self.at_risk_at)

    def met_in_time(self) -> bool:
        return self.met_at is not None and self.met_at <= self.due_at

    def reading(self, now: datetime, paused_since: datetime | None = None) -> ClockReading:
        """The clock at ``now``. ``paused_since``: when the clock was paused, if it is (only the
        resolution clock pauses). A breach is read at the due instant: once recorded, or as soon
        as the due instant has passed unmet while running (met late, or paused after the due)."""
        if self.breached_at is not None:
            return ClockReading(SlaState.BREACHED, self.breached_at, 0)
        if self.met_at is not None:
            if self.met_at > self.due_at:
                return ClockReading(SlaState.BREACHED, self.due_at, 0)
            return ClockReading(SlaState.MET, None, None)
        if paused_since is not None:
            if paused_since >= self.due_at:
                return ClockReading(SlaState.BREACHED, self.due_at, 0)
            return ClockReading(SlaState.PAUSED, None, _seconds(paused_since, self.due_at))
        if now >= self.due_at:
            return ClockReading(SlaState.BREACHED, self.due_at, 0)
        state = SlaState.AT_RISK if now >= self.at_risk_at else SlaState.RUNNING
        return ClockReading(state, None, _seconds(now, self.due_at))


@dataclass(frozen=True)
class AppliedSla:
    """The terms a complaint's clocks run under (``SlaApplied``: at filing, or a re-apply) and
    the clocks themselves."""

    policy_version: int
    rule: str
    calendar: str
    calendar_version: int
    at_risk_ratio: float
    first_response: SlaClock
    resolution: SlaClock

    def clock(self, metric: SlaMetric | str) -> SlaClock:
        return (
            self.first_response if metric == SlaMetric.FIRST_RESPONSE.value else self.resolution
        )

    def with_clock(self, clock: SlaClock) -> AppliedSla:
        if clock.metric == SlaMetric.FIRST_RESPONSE.value:
            return replace(self, first_response=clock)
        return replace(self, resolution=clock)


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))
