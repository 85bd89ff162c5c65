"""Business calendars as configuration: one ``SlaCalendar`` per name, each change a version.

A calendar's id is derived from its name (uuid5), so looking one up is a primary-key read and two
first definitions of one name collide in the store. Every change records the whole definition
(time zone, weekly working hours, holidays, make-up working days), who made it and why, so the
calendar in force at any version can be rebuilt: complaints keep the calendar version they started
with. The built-in ``24x7`` (``CALENDAR_24X7``, version 0) is never stored and cannot be changed.

The definition is stored as plain JSON, the same shape as the HTTP body::

    {"timezone": "Asia/Shanghai",
     "working_hours": {"mon": [["09:00", "18:00"]], ...},   # a day left out has no hours
     "holidays": ["2026-10-01"], "workdays": ["2026-09-28"],
     "workday_hours": [["09:00", "18:00"]]}                  # optional: a make-up day's hours

``check_definition`` validates and normalises it (naming the field of the first problem);
``to_calendar`` reads it back as the contract's ``Calendar``. Event class names are stored topics:
never rename one without an upcaster.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.domain import Aggregate

from aggregates.business_time import CALENDAR_24X7, WEEKDAYS, Calendar, Weekday
from aggregates.errors import InvalidIntakeError
from aggregates.plausible_time import DAY_RANGE, is_plausible_day
from aggregates.provenance import Provenance

BUILT_IN = CALENDAR_24X7.name
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Calendar names: lower-case letters, digits, ``.``, ``_``, ``-``; 1-64, starting alphanumeric."""
TIMEZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,3}$"
"""The shape of an IANA zone key (``Asia/Shanghai``, ``UTC``, ``Etc/GMT-8``); it must also exist."""
CLOCK_PATTERN = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
"""Wall-clock ``HH:MM``; ``24:00`` (or ``00:00`` as an end) is midnight at the end of the day."""
MAX_INTERVALS_PER_DAY = 12
MAX_DATES = 2000

_NAME = re.compile(NAME_PATTERN)
_CLOCK = re.compile(CLOCK_PATTERN)
_TIMEZONE = re.compile(TIMEZONE_PATTERN)
END_OF_DAY = "24:00"

Definition = dict[str, Any]
"""A calendar definition as stored (see the module's docstring)."""


def calendar_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/sla/calendars/{name}")


def check_name(name: str) -> None:
    if name == BUILT_IN:
        raise InvalidIntakeError("name", f"{BUILT_IN} is built in and cannot be changed")
    if not _NAME.fullmatch(name):
        raise InvalidIntakeError(
            "name", "must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _intervals(value: Any, field: str) -> list[list[str]]:
    """Checked, sorted intervals of one day: ``HH:MM`` pairs, start before end, no overlaps."""
    if not isinstance(value, list | tuple):
        raise InvalidIntakeError(field, "must be a list of [start, end] pairs")
    if len(value) > MAX_INTERVALS_PER_DAY:
        raise InvalidIntakeError(field, f"at most {MAX_INTERVALS_PER_DAY} intervals a day")
    found: list[tuple[int, int, int]] = []
    for i, interval in enumerate(value):
        where = f"{field}.{i}"
        if (
            not isinstance(interval, list | tuple)
            or len(interval) != 2
            or not all(isinstance(t, str) and _CLOCK.fullmatch(t) for t in interval)
        ):
            raise InvalidIntakeError(where, 'must be a pair of times like ["09:00", "18:00"]')
        start, end = _minutes(interval[0]), _minutes(interval[1]) or 24 * 60
        if start >= 24 * 60:
            raise InvalidIntakeError(where, "cannot start at 24:00")
        if end <= start:
            raise InvalidIntakeError(where, "must end after it starts")
        found.append((start, end, i))
    found.sort()
    for (_, end, _), (start, _, i) in zip(found, found[1:], strict=False):
        if start < end:
            raise InvalidIntakeError(f"{field}.{i}", "overlaps another interval of the day")
    return [[_clock(start), _clock(end)] for start, end, _ in found]


def _clock(minutes: int) -> str:
    return END_OF_DAY if minutes == 24 * 60 else f"{minutes // 60:02d}:{minutes % 60:02d}"


def _dates(value: Any, field: str) -> list[str]:
    if not isinstance(value, list | tuple):
        raise InvalidIntakeError(field, "must be a list of dates (YYYY-MM-DD)")
    if len(value) > MAX_DATES:
        raise InvalidIntakeError(field, f"at most {MAX_DATES} dates")
    days: set[date] = set()
    for i, text in enumerate(value):
        try:
            day = text if isinstance(text, date) else date.fromisoformat(str(text))
        except ValueError:
            raise InvalidIntakeError(f"{field}.{i}", "must be a date (YYYY-MM-DD)") from None
        if not is_plausible_day(day):
            raise InvalidIntakeError(f"{field}.{i}", f"must be {DAY_RANGE}")
        days.add(day)
    return [d.isoformat() for d in sorted(days)]


def check_timezone(key: Any) -> str:
    if not isinstance(key, str) or not _TIMEZONE.fullmatch(key):
        raise InvalidIntakeError("timezone", "must be an IANA time zone such as Asia/Shanghai")
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidIntakeError("timezone", f"{key!r} is not a known IANA time zone") from None
    return key


def check_definition(data: dict[str, Any]) -> Definition:
    """The definition validated and normalised (intervals and dates sorted, dates unique, ``00:00``
    as an end written ``24:00``); raises ``InvalidIntakeError`` naming the first bad field."""
    unknown = set(data) - {"timezone", "working_hours", "holidays", "workdays", "workday_hours"}
    if unknown:
        raise InvalidIntakeError(sorted(unknown)[0], "is not a field of a calendar")
    timezone = check_timezone(data.get("timezone"))
    hours = data.get("working_hours")
    if not isinstance(hours, dict):
        raise InvalidIntakeError("working_hours", 'must map weekdays to intervals: {"mon": ...}')
    working_hours: dict[str, list[list[str]]] = {}
    for day, intervals in hours.items():
        if day not in WEEKDAYS:
            raise InvalidIntakeError(f"working_hours.{day}", "is not a weekday (mon ... sun)")
        checked = _intervals(intervals, f"working_hours.{day}")
        if checked:
            working_hours[day] = checked
    if not working_hours:
        raise InvalidIntakeError("working_hours", "needs at least one working interval a week")
    holidays = _dates(data.get("holidays", []), "holidays")
    workdays = _dates(data.get("workdays", []), "workdays")
    both = sorted(set(holidays) & set(workdays))
    if both:
        where = f"workdays.{workdays.index(both[0])}"
        raise InvalidIntakeError(where, f"{both[0]} is also listed as a holiday")
    workday_hours = _intervals(data.get("workday_hours", []), "workday_hours")
    return {
        "timezone": timezone,
        "working_hours": {d: working_hours[d] for d in WEEKDAYS if d in working_hours},
        "holidays": holidays,
        "workdays": workdays,
        "workday_hours": workday_hours,
    }


def _times(intervals: list[list[str]]) -> tuple[tuple[time, time], ...]:
    return tuple(
        (time.fromisoformat(start), time(0) if end == END_OF_DAY else time.fromisoformat(end))
        for start, end in intervals
    )


def to_calendar(name: str, version: int, definition: Definition) -> Calendar:
    """The contract's ``Calendar`` of a stored definition (every weekday present, those without
    hours empty).

    A minimal mapping of this module's own: ``business_time.Calendar.from_json`` (the
    business-time work) is meant to replace it once merged."""
    hours: dict[str, list[list[str]]] = definition.get("working_hours", {})
    working_hours: dict[Weekday, tuple[tuple[time, time], ...]] = {
        day: _times(hours.get(day, [])) for day in WEEKDAYS
    }
    return Calendar(
        name=name,
        timezone=definition["timezone"],
        working_hours=working_hours,
        holidays=frozenset(date.fromisoformat(d) for d in definition.get("holidays", [])),
        workdays=frozenset(date.fromisoformat(d) for d in definition.get("workdays", [])),
        version=version,
        workday_hours=_times(definition.get("workday_hours", [])),
    )


def to_definition(calendar: Calendar) -> Definition:
    """The stored (and HTTP) form of a ``Calendar``: the inverse of ``to_calendar``."""

    def texts(intervals: tuple[tuple[time, time], ...]) -> list[list[str]]:
        return [
            [start.strftime("%H:%M"), END_OF_DAY if end == time(0) else end.strftime("%H:%M")]
            for start, end in intervals
        ]

    return {
        "timezone": calendar.timezone,
        "working_hours": {
            day: texts(calendar.working_hours[day])
            for day in WEEKDAYS
            if calendar.working_hours.get(day)
        },
        "holidays": sorted(d.isoformat() for d in calendar.holidays),
        "workdays": sorted(d.isoformat() for d in calendar.workdays),
        "workday_hours": texts(calendar.workday_hours),
    }


class SlaCalendar(Aggregate):
    """A named business calendar and its versions (the aggregate's version is the calendar's)."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None

    class Defined(Aggregate.Created):
        """The first version of a calendar."""

        actor: str
        correlation_id: str
        causation_id: str | None
        name: str
        definition: Definition
        reason: str | None

        def apply(self, calendar: SlaCalendar) -> None:
            calendar.name = self.name
            calendar.definition = self.definition
            calendar.reason = self.reason
            calendar.changed_by = self.actor
            calendar.changed_at = self.timestamp

    class Redefined(Event):
        """A new version: the whole definition, replacing the previous one."""

        definition: Definition
        reason: str | None

        def apply(self, calendar: SlaCalendar) -> None:
            calendar.definition = self.definition
            calendar.reason = self.reason
            calendar.changed_by = self.actor
            calendar.changed_at = self.timestamp

    if TYPE_CHECKING:
        name: str
        definition: Definition
        reason: str | None
        changed_by: str
        changed_at: datetime

    def __init__(self) -> None:
        pass

    @classmethod
    def define(
        cls, name: str, data: dict[str, Any], *, reason: str | None, by: Provenance
    ) -> SlaCalendar:
        check_name(name)
        return cls._create(
            cls.Defined,
            id=calendar_id(name),
            name=name,
            definition=check_definition(data),
            reason=reason,
            **by.as_event_fields(),
        )

    def redefine(self, data: dict[str, Any], *, reason: str | None, by: Provenance) -> bool:
        """Records a new version, unless ``data`` is the current definition (then nothing
        changes, so a repeated PUT is harmless); returns whether it recorded one."""
        definition = check_definition(data)
        if definition == self.definition:
            return False
        self.trigger_event(
            self.Redefined, definition=definition, reason=reason, **by.as_event_fields()
        )
        return True

    def calendar(self) -> Calendar:
        return to_calendar(self.name, self.version, self.definition)
