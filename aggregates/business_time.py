"""Business time: working calendars and the arithmetic of SLA clocks on them (pure, no I/O).

CONTRACT (issue 9; filled in by the business-time work): the names and signatures below are what
the rest of the code uses. Only the 24x7 calendar is computed so far; any other calendar raises
``NotImplementedError`` until the module is finished.

Targets are ISO 8601 durations without years or months: ``PnDTnHnMnS`` (``PT30S``, ``PT1H``,
``P2D``, ``P1DT4H``). On a calendar, the days part counts *working days* (the same local
business moment n working days later) and the time part counts *working seconds*; on ``24x7``
both are plain elapsed time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


@dataclass(frozen=True)
class Target:
    """An SLA target: whole working days plus working seconds, and the text it was given as."""

    days: int
    seconds: int
    text: str

    @classmethod
    def parse(cls, text: str) -> Target:
        """Raises ValueError (naming the problem) for anything but ``PnDTnHnMnS`` above zero."""
        match = _DURATION.fullmatch(text)
        if not match or text in {"P", "PT"}:
            raise ValueError(f"{text!r} is not an ISO 8601 duration like PT4H, P2D or PT30S")
        parts = {k: int(v) for k, v in match.groupdict().items() if v}
        seconds = parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60
        target = cls(parts.get("days", 0), seconds + parts.get("seconds", 0), text)
        if target.days == 0 and target.seconds == 0:
            raise ValueError(f"{text!r}: a target must be longer than zero")
        return target


@dataclass(frozen=True)
class Calendar:
    """When work happens: a time zone, working intervals per weekday (local wall-clock times,
    ``end`` may be ``time(0)`` meaning midnight at the end of the day), holidays (dates that are
    not working days) and make-up working days (调休: dates worked on the hours of
    ``workday_hours``, e.g. a Saturday worked like a Monday)."""

    name: str
    timezone: str
    working_hours: dict[Weekday, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    version: int = 0
    always_open: bool = False
    """The built-in ``24x7``: every second is a working second."""
    workday_hours: tuple[tuple[time, time], ...] = field(default=())
    """The intervals of a make-up working day; empty: those of the first weekday that has any."""


CALENDAR_24X7 = Calendar(
    name="24x7",
    timezone="UTC",
    working_hours={d: ((time(0), time(0)),) for d in WEEKDAYS},
    always_open=True,
)


def due_after(calendar: Calendar, start: datetime, target: Target) -> datetime:
    """The instant (aware, UTC) at which ``target`` of working time has elapsed since ``start``."""
    if calendar.always_open:
        return start + timedelta(days=target.days, seconds=target.seconds)
    raise NotImplementedError("business calendars: issue 9, business-time work")


def working_seconds_between(calendar: Calendar, start: datetime, end: datetime) -> int:
    """Working seconds in [start, end) (0 when end <= start); used to move due times by a pause."""
    if calendar.always_open:
        return max(0, int((end - start).total_seconds()))
    raise NotImplementedError("business calendars: issue 9, business-time work")


def add_working_seconds(calendar: Calendar, start: datetime, seconds: int) -> datetime:
    """The instant ``seconds`` working seconds after ``start`` (the inverse of
    ``working_seconds_between`` for instants inside working time)."""
    if calendar.always_open:
        return start + timedelta(seconds=seconds)
    raise NotImplementedError("business calendars: issue 9, business-time work")
