"""Business time: working calendars and the arithmetic of SLA clocks on them (pure, no I/O).

The rest of the code uses the names below: ``Target``, ``Calendar`` (``from_json``/``to_json``
for its configuration form), ``CALENDAR_24X7``, ``due_after``, ``working_seconds_between`` and
``add_working_seconds``. The only files read are the standard library's time-zone data
(``zoneinfo``).

Working time
    A calendar's *working time* is a set of instants: for every local date, that date's working
    intervals (its weekday's ``working_hours``; none on a holiday; ``workday_hours`` on a make-up
    working day), each taken as the half-open span of instants ``[start, end)``. Working seconds
    are real elapsed seconds inside that set, so an interval across a daylight-saving change is
    as long as it really lasts (Europe/Berlin ``00:00-06:00`` is 5 hours on the last Sunday of
    March and 7 hours on the last Sunday of October).

Wall-clock times and DST
    A local time of day means *the first instant at which the local clock shows that time or a
    later one*. So a time that occurs twice (the repeated hour when clocks go back) means its
    first occurrence, and a time that never occurs (skipped when clocks go forward) means the
    instant of the jump. This mapping never goes backwards within a day, so intervals stay in
    order; an interval entirely inside a skipped hour is empty that day, and a date with no
    non-empty interval is not a working day.

Targets
    ISO 8601 durations without years or months: ``PnDTnHnMnS`` (``PT30S``, ``PT1H``, ``P2D``,
    ``P1DT4H``). On ``24x7`` both parts are plain elapsed time (``P1D`` = 86,400 s). On any other
    calendar the due instant of ``PnDTs`` from ``start`` is computed in two steps:

    1. *Days* (n > 0): the **same point of the n-th working day** after the start's working
       day: as much of that day's working time gone as had gone of the start's working day at
       the start (all of it, if that day has less). With the same hours every day that is the
       same local time n working days later. A start outside working time (a night, a weekend,
       a holiday, a break, before opening) counts as the **end of the working interval before
       it**. So with Mon-Fri 09:00-18:00: Tuesday 10:00 + ``P1D`` is Wednesday 10:00; Friday
       17:00 + ``P1D`` is Monday 17:00; Saturday 11:00, Monday 07:30 and Friday 18:00 +
       ``P1D`` are all Monday 18:00 (a whole working day, and the earliest instant giving it).
       Whole working days always contain working time: ``P1D`` is never due at its start.
    2. *Seconds*: ``add_working_seconds`` from there: the earliest instant by which that many
       working seconds have passed. Nothing is counted outside working time, so a start outside
       it effectively starts the clock when work next begins (Saturday 11:00 + ``PT2H`` is
       Monday 11:00), and a due instant can be the very end of an interval (Monday 17:00 +
       ``PT1H`` is Monday 18:00, not Tuesday 09:00).

    The worked example of issue 9 (Asia/Shanghai, Mon-Fri 09:00-18:00): received Friday 17:00
    with ``PT2H`` is due Monday 10:00 (one hour on Friday, one on Monday); with that Monday a
    holiday, Tuesday 10:00; with the Saturday before a make-up working day, Saturday 10:00.

Pauses
    A pause moves a due instant by the working time it covered:
    ``add_working_seconds(c, due, working_seconds_between(c, paused_at, resumed_at))``. A pause
    over nights and holidays only moves nothing; no pause makes a due earlier.

Speed
    Each calendar keeps (on the instance, see ``Calendar._plan``) the UTC instants of its
    working intervals per date and the totals per local week, so the arithmetic walks a few
    dates at the ends of a span and skips whole weeks in between; a day without a UTC-offset
    change maps its intervals with one offset. ``bench/business_time.py`` measures it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aggregates.errors import FieldError
from aggregates.plausible_time import DAY_RANGE, is_plausible_day

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)

TIMEZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,3}$"
"""The shape of an IANA zone key (``Asia/Shanghai``, ``UTC``, ``Etc/GMT-8``); it must also exist."""
CLOCK_PATTERN = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
"""Wall-clock time ``HH:MM``; ``24:00`` (or ``00:00`` as an end) is the midnight ending the day."""
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MAX_INTERVALS_PER_DAY = 12
MAX_DATES = 2000
END_OF_DAY = "24:00"
CALENDAR_FIELDS = ("timezone", "working_hours", "holidays", "workdays", "workday_hours")
"""The keys of a calendar's configuration form (``Calendar.from_json``); ``workday_hours`` is
optional there."""

_TIMEZONE = re.compile(TIMEZONE_PATTERN)
_CLOCK = re.compile(CLOCK_PATTERN)
_DATE = re.compile(DATE_PATTERN)
_HOST_ZONES = ("localtime", "posixrules", "posix/", "right/")
"""Files beside the zones that name no IANA zone (or one with leap seconds): refused."""

_US = 1_000_000
"""Microseconds per second: the arithmetic counts integer microseconds."""
_DAY_US = 86_400 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)
_CACHE_LIMIT = 100_000
"""Dates (and weeks) a calendar remembers before it starts over: a century is 36,525 dates."""
_PLAN_LIMIT = 256
"""Calendar definitions whose plans are kept (each version of each calendar is one)."""
_PLANS: dict[tuple[object, ...], _Plan] = {}


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


Intervals = tuple[tuple[time, time], ...]


@dataclass(frozen=True)
class Calendar:
    """When work happens: a time zone, working intervals per weekday (local wall-clock times,
    ``end`` may be ``time(0)`` meaning midnight at the end of the day), holidays (dates that are
    not working days) and make-up working days (调休: dates worked on the hours of
    ``workday_hours``, e.g. a Saturday worked like a Monday).

    A make-up working day is worked on ``workday_hours`` whatever its weekday; a holiday is not
    worked whatever its weekday. Intervals that touch (``12:00`` end, ``12:00`` start) are one
    span of working time."""

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

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any], version: int = 0) -> Calendar:
        """The calendar of a configuration body ``{"timezone", "working_hours": {"mon":
        [["09:00", "18:00"]], ...}, "holidays": ["2026-10-01"], "workdays": ["2026-09-28"]}``
        (optionally ``"workday_hours": [["09:00", "18:00"]]``). A weekday left out has no hours.
        Raises ``FieldError`` naming the first unusable field (``timezone``,
        ``working_hours.mon.0``, ``holidays.3``, ...) and why."""
        if not isinstance(data, Mapping):
            raise FieldError("body", "must be a JSON object")
        unknown = sorted(str(key) for key in data if key not in CALENDAR_FIELDS)
        if unknown:
            raise FieldError(unknown[0], "is not a field of a calendar")
        timezone = check_timezone(data.get("timezone"))
        hours = data.get("working_hours")
        if not isinstance(hours, Mapping):
            raise FieldError("working_hours", 'must map weekdays to intervals: {"mon": ...}')
        working_hours: dict[Weekday, Intervals] = {}
        for day, value in hours.items():
            if day not in WEEKDAYS:
                raise FieldError(f"working_hours.{day}", "is not a weekday (mon ... sun)")
            working_hours[day] = _intervals(value, f"working_hours.{day}")
        if not any(working_hours.values()):
            raise FieldError("working_hours", "needs at least one working interval a week")
        holidays = _dates(data.get("holidays", []), "holidays")
        workdays = _dates(data.get("workdays", []), "workdays")
        for i, day in enumerate(workdays):
            if day in holidays:
                raise FieldError(f"workdays.{i}", f"{day.isoformat()} is also listed as a holiday")
        return cls(
            name=name,
            timezone=timezone,
            working_hours={day: working_hours.get(day, ()) for day in WEEKDAYS},
            holidays=frozenset(holidays),
            workdays=frozenset(workdays),
            version=version,
            workday_hours=_intervals(data.get("workday_hours", []), "workday_hours"),
        )

    def to_json(self) -> dict[str, Any]:
        """The configuration form (the inverse of ``from_json``, normalised: weekdays without
        hours left out, intervals and dates sorted, midnight as an end written ``24:00``)."""
        return {
            "timezone": self.timezone,
            "working_hours": {
                day: _texts(self.working_hours[day])
                for day in WEEKDAYS
                if self.working_hours.get(day)
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "workdays": sorted(d.isoformat() for d in self.workdays),
            "workday_hours": _texts(self.workday_hours),
        }

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _plan(self) -> _Plan:
        """The calendar prepared for arithmetic, found on first use and kept on the instance
        (``cached_property`` writes the instance's ``__dict__``, which a frozen dataclass allows;
        it is no field, so equality, ``repr`` and ``dataclasses.replace`` ignore it). Calendars
        with the same definition share one plan, so one rebuilt per complaint (say, from a
        stored definition) finds the dates its twins already computed."""
        key = (
            self.timezone,
            tuple(tuple(self.working_hours.get(day, ())) for day in WEEKDAYS),
            self.holidays,
            self.workdays,
            tuple(self.workday_hours),
        )
        plan = _PLANS.get(key)
        if plan is None:
            if len(_PLANS) >= _PLAN_LIMIT:
                _PLANS.clear()
            plan = _PLANS[key] = _Plan(self)
        return plan


CALENDAR_24X7 = Calendar(
    name="24x7",
    timezone="UTC",
    working_hours={d: ((time(0), time(0)),) for d in WEEKDAYS},
    always_open=True,
)


def due_after(calendar: Calendar, start: datetime, target: Target) -> datetime:
    """The instant (aware, UTC) at which ``target`` of working time has elapsed since ``start``
    (see the module's docstring: days are working days, seconds are working seconds)."""
    start_us = _to_us(start)
    if calendar.always_open:
        return _from_us(start_us + (target.days * 86_400 + target.seconds) * _US)
    plan = calendar._plan
    moment = start_us
    if target.days:
        day, gone = plan.anchor(start_us)
        moment = plan.on_day(plan.working_day_after(day, target.days), gone)
    return _from_us(plan.add(moment, target.seconds * _US))


def working_seconds_between(calendar: Calendar, start: datetime, end: datetime) -> int:
    """Working seconds in [start, end) (0 when end <= start), whole seconds rounded down; used
    to move due times by a pause."""
    start_us, end_us = _to_us(start), _to_us(end)
    if end_us <= start_us:
        return 0
    if calendar.always_open:
        return (end_us - start_us) // _US
    return calendar._plan.between(start_us, end_us) // _US


def add_working_seconds(calendar: Calendar, start: datetime, seconds: int) -> datetime:
    """The earliest instant (aware, UTC) by which ``seconds`` working seconds have passed since
    ``start``: ``start`` itself for 0, else an instant inside or at the end of a working
    interval. The inverse of ``working_seconds_between``:
    ``working_seconds_between(c, s, add_working_seconds(c, s, n)) == n`` for every ``s``."""
    if seconds < 0:
        raise ValueError("cannot add a negative amount of working time")
    start_us = _to_us(start)
    if calendar.always_open:
        return _from_us(start_us + seconds * _US)
    return _from_us(calendar._plan.add(start_us, seconds * _US))


def working_intervals(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The working time of one local date as UTC instants ``(start, end)``, in order; empty on
    a date that is not worked (for ``24x7``: the UTC day)."""
    if calendar.always_open:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return ((midnight, midnight + _ONE_DAY),)
    return tuple((_from_us(a), _from_us(b)) for a, b in calendar._plan.day(day))


def is_working_time(calendar: Calendar, instant: datetime) -> bool:
    """Whether ``instant`` lies in the calendar's working time (interval ends excluded)."""
    if calendar.always_open:
        return True
    plan = calendar._plan
    at = _to_us(instant)
    day = plan.local_date(at)
    return any(a <= at < b for d in (day - _ONE_DAY, day, day + _ONE_DAY) for a, b in plan.day(d))


def check_timezone(key: object) -> str:
    """``key`` if it names an IANA time zone known here; raises ``FieldError("timezone", ...)``."""
    if not isinstance(key, str) or not _TIMEZONE.fullmatch(key) or key.startswith(_HOST_ZONES):
        raise FieldError("timezone", "must be an IANA time zone such as Asia/Shanghai")
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise FieldError("timezone", f"{key!r} is not a known IANA time zone") from None
    return key


# --- the configuration form ------------------------------------------------------------------


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _intervals(value: object, field: str) -> Intervals:
    """One day's intervals, checked and sorted: ``HH:MM`` pairs, start before end, no overlaps."""
    if not isinstance(value, list | tuple):
        raise FieldError(field, "must be a list of [start, end] pairs")
    if len(value) > MAX_INTERVALS_PER_DAY:
        raise FieldError(field, f"at most {MAX_INTERVALS_PER_DAY} intervals a day")
    found: list[tuple[int, int, int]] = []
    for i, interval in enumerate(value):
        where = f"{field}.{i}"
        if (
            not isinstance(interval, list | tuple)
            or len(interval) != 2
            or not all(isinstance(t, str) and _CLOCK.fullmatch(t) for t in interval)
        ):
            raise FieldError(where, 'must be a pair of times like ["09:00", "18:00"]')
        start, end = _clock(interval[0]), _clock(interval[1]) or 24 * 60
        if start >= 24 * 60:
            raise FieldError(where, "cannot start at 24:00")
        if end <= start:
            raise FieldError(where, "must end after it starts (split a night shift at 24:00)")
        found.append((start, end, i))
    found.sort()
    for (_, end, _), (start, _, i) in zip(found, found[1:], strict=False):
        if start < end:
            raise FieldError(f"{field}.{i}", "overlaps another interval of the day")
    return tuple((_time(start), _time(end % (24 * 60))) for start, end, _ in found)


def _time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _texts(intervals: Iterable[tuple[time, time]]) -> list[list[str]]:
    def text(t: time, end: bool) -> str:
        if end and t == time(0):
            return END_OF_DAY
        return t.strftime("%H:%M:%S" if t.second or t.microsecond else "%H:%M")

    return [[text(start, False), text(end, True)] for start, end in sorted(intervals)]


def _dates(value: object, field: str) -> list[date]:
    if not isinstance(value, list | tuple):
        raise FieldError(field, "must be a list of dates (YYYY-MM-DD)")
    if len(value) > MAX_DATES:
        raise FieldError(field, f"at most {MAX_DATES} dates")
    days: list[date] = []
    for i, text in enumerate(value):
        try:
            if not isinstance(text, str) or not _DATE.fullmatch(text):
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise FieldError(f"{field}.{i}", "must be a date (YYYY-MM-DD)") from None
        if not is_plausible_day(day):
            raise FieldError(f"{field}.{i}", f"must be {DAY_RANGE}")
        days.append(day)
    return days


# --- the arithmetic --------------------------------------------------------------------------


def _to_us(instant: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"business time needs aware datetimes, got {instant!r}")
    return (instant - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _us_of_day(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


def _local_spans(intervals: Iterable[tuple[time, time]]) -> tuple[tuple[int, int], ...]:
    """Intervals as microseconds after local midnight, sorted, overlapping or touching ones
    merged; ``end`` ``time(0)`` is the end of the day."""
    spans = sorted(
        (_us_of_day(start), _us_of_day(end) or _DAY_US) for start, end in intervals
    )
    merged: list[list[int]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((start, end) for start, end in merged)


class _Plan:
    """A calendar prepared for arithmetic in integer microseconds since the epoch (UTC)."""

    def __init__(self, calendar: Calendar) -> None:
        self.zone = ZoneInfo(calendar.timezone)
        self.weekly = tuple(
            _local_spans(calendar.working_hours.get(day, ())) for day in WEEKDAYS
        )
        if not any(self.weekly):
            raise ValueError(f"calendar {calendar.name!r} has no working time in the week")
        first = next(spans for spans in self.weekly if spans)
        self.makeup = _local_spans(calendar.workday_hours) or first
        self.holidays = calendar.holidays
        self.workdays = calendar.workdays
        self.days: dict[date, tuple[tuple[int, int], ...]] = {}
        self.midnights: dict[date, int] = {}
        self.weeks: dict[date, tuple[int, int]] = {}

    # -- local dates and instants

    def local_date(self, at: int) -> date:
        return _from_us(at).astimezone(self.zone).date()

    def instant(self, day: date, offset: int) -> int:
        """The first instant at which the local clock shows ``offset`` microseconds after the
        midnight that begins ``day`` (or a later time: a skipped time maps to the jump)."""
        wall = datetime(day.year, day.month, day.day) + timedelta(microseconds=offset)
        utc_offset = self.zone.utcoffset(wall)
        # Most times are shown once: both folds give the same offset.
        if utc_offset is not None and utc_offset == self.zone.utcoffset(wall.replace(fold=1)):
            return (wall - utc_offset - _NAIVE_EPOCH) // _ONE_US
        at = _to_us(wall.replace(tzinfo=self.zone))  # fold=0: the earlier of a repeated time
        if _from_us(at).astimezone(self.zone).replace(tzinfo=None) == wall:
            return at
        # Skipped by a jump forward: fold=0 used the offset before the jump, an instant after
        # it. Find the jump: the first instant whose local reading is ``wall`` or later.
        low, high = at - 2 * _DAY_US, at
        while high - low > 1:
            middle = (low + high) // 2
            if _from_us(middle).astimezone(self.zone).replace(tzinfo=None) >= wall:
                high = middle
            else:
                low = middle
        return high

    def midnight(self, day: date) -> int:
        at = self.midnights.get(day)
        if at is None:
            if len(self.midnights) >= _CACHE_LIMIT:
                self.midnights.clear()
            at = self.midnights[day] = self.instant(day, 0)
        return at

    def spans_of(self, day: date) -> tuple[tuple[int, int], ...]:
        """The local working intervals of ``day`` (microseconds after its midnight)."""
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.makeup
        return self.weekly[day.weekday()]

    def day(self, day: date) -> tuple[tuple[int, int], ...]:
        """The working intervals of a local date as instants, in order, none empty."""
        found = self.days.get(day)
        if found is not None:
            return found
        spans = self.spans_of(day)
        if not spans:
            found = ()
        else:
            begin, end = self.midnight(day), self.midnight(day + _ONE_DAY)
            if end - begin == _DAY_US:  # no change of UTC offset that day: one offset for all
                found = tuple((begin + a, begin + b) for a, b in spans)
            else:
                mapped = ((self.instant(day, a), self.instant(day, b)) for a, b in spans)
                found = tuple((a, b) for a, b in mapped if a < b)
        if len(self.days) >= _CACHE_LIMIT:
            self.days.clear()
        self.days[day] = found
        return found

    def week(self, monday: date) -> tuple[int, int]:
        """Working microseconds and working days of the local week beginning ``monday``."""
        found = self.weeks.get(monday)
        if found is None:
            days = [self.day(monday + timedelta(days=i)) for i in range(7)]
            found = (sum(b - a for spans in days for a, b in spans), sum(1 for s in days if s))
            if len(self.weeks) >= _CACHE_LIMIT:
                self.weeks.clear()
            self.weeks[monday] = found
        return found

    # -- the three operations

    def between(self, start: int, end: int) -> int:
        """Working microseconds in [start, end)."""
        total = 0
        # Intervals of dates before the start's local date end by its midnight, which the
        # start is not before; one date earlier covers a clock that went back over midnight.
        day = self.local_date(start) - _ONE_DAY
        while True:
            if day.weekday() == 0 and self.midnight(day) >= start:
                while self.midnight(day + _WEEK) <= end:
                    total += self.week(day)[0]
                    day += _WEEK
            if self.midnight(day) >= end:
                return total
            for a, b in self.day(day):
                if b <= start:
                    continue
                if a >= end:
                    return total
                total += min(b, end) - max(a, start)
            day += _ONE_DAY

    def add(self, start: int, amount: int) -> int:
        """The earliest instant by which ``amount`` working microseconds have passed."""
        if amount <= 0:
            return start
        left = amount
        day = self.local_date(start) - _ONE_DAY
        while True:
            if day.weekday() == 0 and self.midnight(day) >= start:
                while left > (in_week := self.week(day)[0]):
                    left -= in_week
                    day += _WEEK
            for a, b in self.day(day):
                if b <= start:
                    continue
                begin = max(a, start)
                if left <= b - begin:
                    return begin + left
                left -= b - begin
            day += _ONE_DAY

    def anchor(self, at: int) -> tuple[date, int]:
        """The working day from which whole working days are counted, and how much of its
        working time had gone (microseconds) at ``at``; an instant outside working time counts
        as the end of the working interval before it."""
        day = self.local_date(at) + _ONE_DAY
        while True:
            spans = self.day(day)
            if spans and spans[0][0] <= at:
                return day, sum(min(b, at) - a for a, b in spans if a <= at)
            day -= _ONE_DAY

    def working_day_after(self, day: date, count: int) -> date:
        """The ``count``-th date after ``day`` that has working time."""
        while True:
            day += _ONE_DAY
            if day.weekday() == 0:
                while (days := self.week(day)[1]) < count:
                    count -= days
                    day += _WEEK
            if self.day(day):
                count -= 1
                if count == 0:
                    return day

    def on_day(self, day: date, gone: int) -> int:
        """The earliest instant of working day ``day`` by which ``gone`` microseconds of its
        working time have passed; its end if it has less."""
        for a, b in self.day(day):
            if gone <= b - a:
                return a + gone
            gone -= b - a
        return self.day(day)[-1][1]
