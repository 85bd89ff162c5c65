"""Request models of the SLA configuration: a business calendar, the policy's rules and escalation.

They are the HTTP bodies of ``PUT /sla/calendars/{name}`` and ``PUT /sla/policy`` (and what the
CLI reads from its JSON files), and state in OpenAPI what is accepted: patterns, enums, lengths.
The rules that span fields (a last rule matching everything, unique names, known calendars, no
overlapping intervals, an existing time zone) are checked by the aggregates
(``aggregates/sla_calendar.py``, ``aggregates/sla_policy_book.py``), which name the field too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from aggregates.business_time import (
    CLOCK_PATTERN,
    MAX_DATES,
    MAX_INTERVALS_PER_DAY,
    TIMEZONE_PATTERN,
)
from aggregates.sla_calendar import NAME_PATTERN
from aggregates.sla_policy import DEFAULT_AT_RISK_RATIO
from aggregates.sla_policy_book import MAX_RULES, RULE_NAME_PATTERN, TARGET_PATTERN
from aggregates.vocabulary import Category, Channel, CustomerTier, Severity
from commands.input_types import PlausibleDay
from commands.models import Command, Reason

Clock = Annotated[
    str,
    StringConstraints(pattern=CLOCK_PATTERN),
    Field(description="Local wall-clock time HH:MM; 24:00 ends a day"),
]
Interval = Annotated[
    list[Clock],
    Field(min_length=2, max_length=2, description="[start, end), e.g. [\"09:00\", \"18:00\"]"),
]
Intervals = Annotated[list[Interval], Field(max_length=MAX_INTERVALS_PER_DAY)]
Days = Annotated[list[PlausibleDay], Field(max_length=MAX_DATES)]
CalendarName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
TargetText = Annotated[
    str,
    StringConstraints(pattern=TARGET_PATTERN),
    Field(
        description="ISO 8601 duration PnDTnHnMnS (PT30S, PT4H, P2D, P1DT4H): above zero, at "
        "most 366 days; days count working days on the rule's calendar, the rest working time",
        examples=["PT4H"],
    ),
]


class WorkingHours(Command):
    """Working intervals per weekday (local time of the calendar's zone); a day left out or
    empty has none."""

    mon: Intervals = []
    tue: Intervals = []
    wed: Intervals = []
    thu: Intervals = []
    fri: Intervals = []
    sat: Intervals = []
    sun: Intervals = []


class SetCalendar(Command):
    """A business calendar's whole definition: each PUT is a new version."""

    timezone: Annotated[
        str,
        StringConstraints(max_length=64, pattern=TIMEZONE_PATTERN),
        Field(description="IANA time zone, e.g. Asia/Shanghai", examples=["Asia/Shanghai"]),
    ]
    working_hours: WorkingHours
    holidays: Days = Field(default=[], description="Dates that are not working days")
    workdays: Days = Field(
        default=[],
        description="Make-up working days (调休): dates worked although their weekday has no "
        "hours, on the hours of `workday_hours`",
    )
    workday_hours: Intervals = Field(
        default=[],
        description="The intervals of a make-up working day; empty: those of the first "
        "weekday that has any",
    )
    reason: Reason | None = Field(default=None, description="Why it changes (recorded)")

    def definition(self) -> dict[str, Any]:
        """The definition as the aggregate takes it (JSON values: dates as text)."""
        return self.model_dump(mode="json", exclude={"reason"})


class When(Command):
    """What a rule matches; a condition left out (or null) matches any value."""

    severity: Annotated[list[Severity], Field(min_length=1, max_length=20)] | None = None
    tier: Annotated[list[CustomerTier], Field(min_length=1, max_length=20)] | None = None
    category: Annotated[list[Category], Field(min_length=1, max_length=20)] | None = None
    channel: Annotated[list[Channel], Field(min_length=1, max_length=20)] | None = None


class RuleInput(Command):
    name: Annotated[
        str,
        StringConstraints(pattern=RULE_NAME_PATTERN),
        Field(description="Unique in the policy; recorded on each complaint it applies to"),
    ]
    when: When = Field(
        default_factory=When, description="Conditions; the last rule must have none"
    )
    calendar: CalendarName = Field(
        default="24x7", description="The business calendar the targets are measured on"
    )
    first_response: TargetText
    resolution: TargetText
    at_risk_ratio: float = Field(
        default=DEFAULT_AT_RISK_RATIO,
        gt=0,
        lt=1,
        description="A clock is at risk once this share of its target is left",
    )


class EscalationInput(Command):
    """Escalation levels the deadline watcher raises a complaint to."""

    on_first_response_breach: Annotated[int, Field(ge=1, le=10)] = 1
    on_resolution_breach: Annotated[int, Field(ge=1, le=10)] = 2
    still_open_after_resolution_breach: Annotated[int, Field(ge=1, le=10)] = 3
    still_open_after: TargetText = "P1D"
    critical_at_filing: Annotated[int, Field(ge=1, le=10)] = 1


class SetPolicy(Command):
    """The whole policy: each PUT is a new version."""

    rules: Annotated[list[RuleInput], Field(min_length=1, max_length=MAX_RULES)] = Field(
        description="Ordered, first match wins; the last matches everything (the default)"
    )
    escalation: EscalationInput | None = Field(
        default=None, description="Left out: the issue's defaults (levels 1, 2, 3 after P1D, 1)"
    )
    reason: Reason = Field(description="Why the policy changes (recorded)")

    def rules_json(self) -> list[dict[str, Any]]:
        return [r.model_dump(mode="json") for r in self.rules]

    def escalation_json(self) -> dict[str, Any] | None:
        return None if self.escalation is None else self.escalation.model_dump(mode="json")
