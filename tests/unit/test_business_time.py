"""Business-time arithmetic (aggregates/business_time.py): unit tests of the rules the module's
docstring states, the worked example of issue 9, the configuration form, and property tests over
random calendars in zones with and without daylight-saving time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aggregates.business_time import (
    CALENDAR_24X7,
    WEEKDAYS,
    Calendar,
    Target,
    add_working_seconds,
    due_after,
    is_working_time,
    working_intervals,
    working_seconds_between,
)
from aggregates.errors import FieldError

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE_HOURS = {day: [["09:00", "18:00"]] for day in WEEKDAYS[:5]}
HOUR = 3600

# No example database: tests write nothing into the work tree.
PROPERTIES = settings(max_examples=100, deadline=None, database=None)


def calendar(timezone: str = "Asia/Shanghai", **fields: Any) -> Calendar:
    data = {"timezone": timezone, "working_hours": OFFICE_HOURS, **fields}
    return Calendar.from_json("office", data)


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def due(cal: Calendar, start: datetime, target: str) -> datetime:
    return due_after(cal, start, Target.parse(target))


# 2026-09-25 is a Friday; 2026-09-28 the Monday after.
FRIDAY_1700 = at(SHANGHAI, 2026, 9, 25, 17)


# --- the worked example of issue 9 -----------------------------------------------------------


def test_friday_1700_with_two_hours_is_due_monday_1000() -> None:
    assert due(calendar(), FRIDAY_1700, "PT2H") == at(SHANGHAI, 2026, 9, 28, 10)


def test_with_that_monday_a_holiday_it_is_due_tuesday_1000() -> None:
    holiday = calendar(holidays=["2026-09-28"])
    assert due(holiday, FRIDAY_1700, "PT2H") == at(SHANGHAI, 2026, 9, 29, 10)


def test_with_the_saturday_a_make_up_workday_it_is_due_saturday_1000() -> None:
    make_up = calendar(workdays=["2026-09-26"])
    assert due(make_up, FRIDAY_1700, "PT2H") == at(SHANGHAI, 2026, 9, 26, 10)


def test_due_instants_are_utc() -> None:
    found = due(calendar(), FRIDAY_1700, "PT2H")
    assert found.tzinfo is UTC and found == datetime(2026, 9, 28, 2, tzinfo=UTC)


# --- working seconds -------------------------------------------------------------------------


def test_a_due_can_be_the_very_end_of_the_working_day() -> None:
    monday_1700 = at(SHANGHAI, 2026, 9, 28, 17)
    assert due(calendar(), monday_1700, "PT1H") == at(SHANGHAI, 2026, 9, 28, 18)


def test_a_start_outside_working_time_starts_the_clock_when_work_begins() -> None:
    saturday_1100 = at(SHANGHAI, 2026, 9, 26, 11)
    assert due(calendar(), saturday_1100, "PT2H") == at(SHANGHAI, 2026, 9, 28, 11)


def test_seconds_count() -> None:
    assert due(calendar(), at(SHANGHAI, 2026, 9, 28, 17, 59), "PT90S") == at(
        SHANGHAI, 2026, 9, 29, 9, 0, 30
    )


def test_a_weekend_is_skipped() -> None:
    week = working_seconds_between(calendar(), at(SHANGHAI, 2026, 9, 28), at(SHANGHAI, 2026, 10, 5))
    assert week == 45 * HOUR


def test_many_weeks_are_counted_whole() -> None:
    start, end = at(SHANGHAI, 2026, 1, 7, 12), at(SHANGHAI, 2028, 1, 5, 12)  # both Wednesdays
    assert working_seconds_between(calendar(), start, end) == 104 * 45 * HOUR


def test_holidays_are_not_worked() -> None:
    golden_week = calendar(holidays=[f"2026-10-0{d}" for d in range(1, 8)])
    # Mon 2026-09-28 .. Sun 2026-10-11: Mon-Wed before the holidays, Thu and Fri after them.
    span = (at(SHANGHAI, 2026, 9, 28), at(SHANGHAI, 2026, 10, 12))
    assert working_seconds_between(golden_week, *span) == 5 * 9 * HOUR


def test_a_make_up_workday_is_worked_on_the_first_weekdays_hours() -> None:
    make_up = calendar(workdays=["2026-09-27"])
    sunday = working_intervals(make_up, date(2026, 9, 27))
    assert sunday == ((at(SHANGHAI, 2026, 9, 27, 9), at(SHANGHAI, 2026, 9, 27, 18)),)


def test_a_make_up_workday_can_have_hours_of_its_own() -> None:
    make_up = calendar(workdays=["2026-09-27"], workday_hours=[["10:00", "12:00"]])
    sunday = working_intervals(make_up, date(2026, 9, 27))
    assert sunday == ((at(SHANGHAI, 2026, 9, 27, 10), at(SHANGHAI, 2026, 9, 27, 12)),)


def test_several_intervals_a_day_skip_the_break() -> None:
    split = calendar(working_hours={"mon": [["13:00", "18:00"], ["09:00", "12:00"]]})
    monday_1100 = at(SHANGHAI, 2026, 9, 28, 11)
    assert due(split, monday_1100, "PT2H") == at(SHANGHAI, 2026, 9, 28, 14)
    assert working_seconds_between(split, monday_1100, at(SHANGHAI, 2026, 9, 28, 14)) == 2 * HOUR


def test_touching_intervals_are_one_span() -> None:
    split = calendar(working_hours={"mon": [["09:00", "12:00"], ["12:00", "18:00"]]})
    monday = at(SHANGHAI, 2026, 9, 28, 9)
    assert working_intervals(split, date(2026, 9, 28)) == ((monday, monday + timedelta(hours=9)),)


def test_a_night_shift_split_at_midnight_runs_on() -> None:
    nights = calendar(working_hours={"fri": [["22:00", "24:00"]], "sat": [["00:00", "06:00"]]})
    friday_2300 = at(SHANGHAI, 2026, 9, 25, 23)
    assert due(nights, friday_2300, "PT3H") == at(SHANGHAI, 2026, 9, 26, 2)


def test_a_pause_over_a_night_and_a_holiday_counts_only_working_time() -> None:
    cal = calendar(holidays=["2026-09-29"])
    paused, resumed = at(SHANGHAI, 2026, 9, 28, 16), at(SHANGHAI, 2026, 9, 30, 10)
    assert working_seconds_between(cal, paused, resumed) == 3 * HOUR


def test_a_pause_in_non_working_time_only_moves_nothing() -> None:
    cal = calendar(holidays=["2026-09-28"])
    due_at = at(SHANGHAI, 2026, 9, 29, 10)
    friday_1800, tuesday_0900 = at(SHANGHAI, 2026, 9, 25, 18), at(SHANGHAI, 2026, 9, 29, 9)
    paused = working_seconds_between(cal, friday_1800, tuesday_0900)
    assert paused == 0
    assert add_working_seconds(cal, due_at, paused) == due_at


def test_working_seconds_are_rounded_down_and_never_negative() -> None:
    start = at(SHANGHAI, 2026, 9, 28, 10)
    almost_two = start + timedelta(microseconds=1_999_999)
    assert working_seconds_between(calendar(), start, almost_two) == 1
    assert working_seconds_between(calendar(), start, start - timedelta(hours=1)) == 0


def test_adding_nothing_leaves_the_instant_alone() -> None:
    sunday = at(SHANGHAI, 2026, 9, 27, 3)
    assert add_working_seconds(calendar(), sunday, 0) == sunday


def test_adding_a_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_seconds(calendar(), FRIDAY_1700, -1)


@pytest.mark.parametrize(
    "operation",
    [
        lambda c, t: due_after(c, t, Target.parse("PT1H")),
        lambda c, t: add_working_seconds(c, t, 1),
        lambda c, t: working_seconds_between(c, t, t),
    ],
    ids=["due_after", "add_working_seconds", "working_seconds_between"],
)
@pytest.mark.parametrize("cal", [calendar(), CALENDAR_24X7], ids=["office", "24x7"])
def test_naive_datetimes_are_refused(
    operation: Callable[[Calendar, datetime], object], cal: Calendar
) -> None:
    with pytest.raises(ValueError, match="aware"):
        operation(cal, datetime(2026, 9, 28, 10))


def test_is_working_time() -> None:
    cal = calendar()
    assert is_working_time(cal, at(SHANGHAI, 2026, 9, 28, 9))
    assert not is_working_time(cal, at(SHANGHAI, 2026, 9, 28, 18))
    assert not is_working_time(cal, at(SHANGHAI, 2026, 9, 27, 12))


# --- whole working days ----------------------------------------------------------------------


def test_a_working_day_is_the_same_time_the_next_working_day() -> None:
    assert due(calendar(), at(SHANGHAI, 2026, 9, 29, 10), "P1D") == at(SHANGHAI, 2026, 9, 30, 10)


def test_working_days_skip_the_weekend() -> None:
    assert due(calendar(), FRIDAY_1700, "P1D") == at(SHANGHAI, 2026, 9, 28, 17)


def test_working_days_skip_holidays_and_count_make_up_days() -> None:
    cal = calendar(holidays=["2026-10-01", "2026-10-02"], workdays=["2026-10-10"])
    # Thu 1 and Fri 2 off; Sat 10 worked: five working days after Wed 30 Sep is Sat 10 Oct.
    assert due(cal, at(SHANGHAI, 2026, 9, 30, 15), "P5D") == at(SHANGHAI, 2026, 10, 9, 15)
    assert due(cal, at(SHANGHAI, 2026, 9, 30, 15), "P6D") == at(SHANGHAI, 2026, 10, 10, 15)


@pytest.mark.parametrize(
    "start",
    [
        at(SHANGHAI, 2026, 9, 26, 11),  # Saturday
        at(SHANGHAI, 2026, 9, 28, 7, 30),  # Monday before opening
        at(SHANGHAI, 2026, 9, 25, 18),  # Friday at closing
        at(SHANGHAI, 2026, 9, 25, 22),  # Friday night
    ],
    ids=["saturday", "before-opening", "at-closing", "friday-night"],
)
def test_a_working_day_from_outside_working_time_ends_with_the_next_working_day(
    start: datetime,
) -> None:
    assert due(calendar(), start, "P1D") == at(SHANGHAI, 2026, 9, 28, 18)


@pytest.mark.parametrize(
    ("start", "two_hours", "one_day"),
    [
        ((2026, 9, 29, 10), (2026, 9, 29, 12), (2026, 9, 30, 10)),  # Tuesday 10:00
        ((2026, 9, 25, 17), (2026, 9, 28, 10), (2026, 9, 28, 17)),  # Friday 17:00
        ((2026, 9, 25, 18), (2026, 9, 28, 11), (2026, 9, 28, 18)),  # Friday 18:00
        ((2026, 9, 26, 11), (2026, 9, 28, 11), (2026, 9, 28, 18)),  # Saturday 11:00
        ((2026, 9, 28, 7, 30), (2026, 9, 28, 11), (2026, 9, 28, 18)),  # Monday 07:30
    ],
)
def test_the_table_of_docs_sla_md(
    start: tuple[int, ...], two_hours: tuple[int, ...], one_day: tuple[int, ...]
) -> None:
    received = at(SHANGHAI, *start)
    assert due(calendar(), received, "PT2H") == at(SHANGHAI, *two_hours)
    assert due(calendar(), received, "P1D") == at(SHANGHAI, *one_day)


def test_days_then_seconds() -> None:
    assert due(calendar(), FRIDAY_1700, "P1DT2H") == at(SHANGHAI, 2026, 9, 29, 10)


def test_a_working_day_on_other_hours_is_the_same_working_time_into_it() -> None:
    cal = calendar(working_hours={"mon": [["08:00", "18:00"]], "tue": [["10:00", "18:00"]]})
    assert due(cal, at(SHANGHAI, 2026, 9, 28, 8, 30), "P1D") == at(SHANGHAI, 2026, 9, 29, 10, 30)


def test_a_working_day_on_shorter_hours_ends_with_them() -> None:
    cal = calendar(working_hours={"mon": [["09:00", "18:00"]], "tue": [["09:00", "15:00"]]})
    assert due(cal, at(SHANGHAI, 2026, 9, 28, 17), "P1D") == at(SHANGHAI, 2026, 9, 29, 15)


def test_a_working_day_counts_working_time_over_a_break() -> None:
    cal = calendar(
        working_hours={"mon": [["09:00", "18:00"]], "tue": [["09:00", "12:00"], ["13:00", "18:00"]]}
    )
    assert due(cal, at(SHANGHAI, 2026, 9, 28, 12, 30), "P1D") == at(SHANGHAI, 2026, 9, 29, 13, 30)


def test_a_start_in_a_break_counts_as_the_end_of_the_interval_before() -> None:
    cal = calendar(working_hours={d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in WEEKDAYS})
    assert due(cal, at(SHANGHAI, 2026, 9, 28, 12, 30), "P1D") == at(SHANGHAI, 2026, 9, 29, 12)


def test_a_working_day_from_the_end_of_a_short_day_goes_as_far_into_the_next() -> None:
    # Saturday's 3 hours end at 12:00 and Monday's begin at 13:00: 3 hours into Monday, not
    # "Monday 12:00" clamped to 13:00, which would be a working day without working time.
    cal = calendar(working_hours={"sat": [["09:00", "12:00"]], "mon": [["13:00", "22:00"]]})
    assert due(cal, at(SHANGHAI, 2026, 9, 26, 12), "P1D") == at(SHANGHAI, 2026, 9, 28, 16)


def test_many_working_days_skip_whole_weeks() -> None:
    # 260 working days = 52 weeks of five.
    assert due(calendar(), at(SHANGHAI, 2026, 9, 29, 10), "P260D") == at(SHANGHAI, 2027, 9, 28, 10)


# --- time zones: one with DST, one without ---------------------------------------------------


def test_a_zone_without_dst_has_the_same_week_all_year() -> None:
    cal = calendar(working_hours={d: [["00:00", "06:00"]] for d in WEEKDAYS})
    for monday in (date(2026, 3, 23), date(2026, 10, 19)):
        assert all(
            b - a == timedelta(hours=6)
            for i in range(7)
            for a, b in working_intervals(cal, monday + timedelta(days=i))
        )


def test_an_interval_across_the_spring_change_lasts_an_hour_less() -> None:
    cal = calendar("Europe/Berlin", working_hours={"sun": [["00:00", "06:00"]]})
    ((start, end),) = working_intervals(cal, date(2026, 3, 29))
    assert (start, end) == (at(BERLIN, 2026, 3, 29, 0), at(BERLIN, 2026, 3, 29, 6))
    assert end - start == timedelta(hours=5)


def test_an_interval_across_the_autumn_change_lasts_an_hour_more() -> None:
    cal = calendar("Europe/Berlin", working_hours={"sun": [["00:00", "06:00"]]})
    ((start, end),) = working_intervals(cal, date(2026, 10, 25))
    assert end - start == timedelta(hours=7)
    assert working_seconds_between(cal, start, end) == 7 * HOUR


def test_a_skipped_start_means_the_instant_of_the_jump() -> None:
    cal = calendar("Europe/Berlin", working_hours={"sun": [["02:30", "05:00"]]})
    ((start, end),) = working_intervals(cal, date(2026, 3, 29))
    assert start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET became 03:00 CEST
    assert end - start == timedelta(hours=2)


def test_a_repeated_start_means_its_first_occurrence() -> None:
    cal = calendar("Europe/Berlin", working_hours={"sun": [["02:30", "05:00"]]})
    ((start, end),) = working_intervals(cal, date(2026, 10, 25))
    assert start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, not 02:30 CET
    assert end - start == timedelta(hours=3, minutes=30)


def test_an_interval_inside_the_skipped_hour_is_no_working_time() -> None:
    cal = calendar("Europe/Berlin", working_hours={"sun": [["02:00", "03:00"]]})
    assert working_intervals(cal, date(2026, 3, 29)) == ()
    # So that Sunday is no working day: one working day from the Sunday before is this one.
    before = at(BERLIN, 2026, 3, 22, 2, 30)
    assert due(cal, before, "P1D") == at(BERLIN, 2026, 4, 5, 2, 30)


def test_a_working_day_keeps_the_local_time_across_a_change() -> None:
    cal = calendar("Europe/Berlin")
    friday = at(BERLIN, 2026, 3, 27, 10)
    assert due(cal, friday, "P1D") == at(BERLIN, 2026, 3, 30, 10)
    assert due(cal, friday, "P1D") - friday == timedelta(hours=71)


def test_office_hours_are_nine_hours_whatever_the_offset() -> None:
    cal = calendar("Europe/Berlin")
    for day in (date(2026, 3, 27), date(2026, 3, 30), date(2026, 10, 26)):
        ((start, end),) = working_intervals(cal, day)
        assert end - start == timedelta(hours=9)


def test_a_midnight_that_never_happens_starts_the_day_at_the_jump() -> None:
    # Chile moves its clocks forward at 24:00 on the first Saturday of September 2026.
    cal = calendar("America/Santiago", working_hours={"sun": [["00:00", "03:00"]]})
    ((start, end),) = working_intervals(cal, date(2026, 9, 6))
    assert end - start == timedelta(hours=2)
    assert start.astimezone(ZoneInfo("America/Santiago")).hour == 1


def first_instant_showing(zone: ZoneInfo, wall: datetime) -> datetime:
    """Brute force: the first whole minute whose local reading is ``wall`` or later."""
    probe = wall.replace(tzinfo=UTC) - timedelta(hours=16)
    while probe.astimezone(zone).replace(tzinfo=None) < wall:
        probe += timedelta(minutes=1)
    return probe


@pytest.mark.parametrize(
    ("timezone", "day"),
    [
        ("Europe/Berlin", date(2026, 3, 29)),
        ("Europe/Berlin", date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
        ("Australia/Lord_Howe", date(2026, 4, 5)),
        ("Australia/Lord_Howe", date(2026, 10, 4)),
        ("America/Santiago", date(2026, 4, 4)),
        ("America/Santiago", date(2026, 9, 6)),
    ],
)
def test_wall_times_on_change_days_mean_the_first_instant_showing_them(
    timezone: str, day: date
) -> None:
    zone = ZoneInfo(timezone)
    next_midnight = first_instant_showing(zone, datetime.combine(day + timedelta(days=1), time()))
    for minutes in range(0, 24 * 60, 30):
        start = time(minutes // 60, minutes % 60)
        probe = Calendar(
            "probe",
            timezone,
            {"mon": ((time(0), time(0)),)},
            workdays=frozenset({day}),
            workday_hours=((start, time(0)),),
        )
        intervals = working_intervals(probe, day)
        begins = first_instant_showing(zone, datetime.combine(day, start))
        if begins < next_midnight:
            assert intervals == ((begins, next_midnight),), start
        else:  # the rest of the day was skipped by a jump forward
            assert intervals == (), start


# --- 24x7 -------------------------------------------------------------------------------------


def test_24x7_counts_plain_elapsed_time() -> None:
    start = at(SHANGHAI, 2026, 9, 26, 23)
    assert due_after(CALENDAR_24X7, start, Target.parse("P1DT30S")) == start + timedelta(
        days=1, seconds=30
    )
    assert working_seconds_between(CALENDAR_24X7, start, start + timedelta(hours=5)) == 5 * HOUR


# --- the configuration form ------------------------------------------------------------------

CHINA = {
    "timezone": "Asia/Shanghai",
    "working_hours": {"tue": [["13:00", "18:00"], ["09:00", "12:00"]], "mon": [["09:00", "00:00"]]},
    "holidays": ["2026-10-02", "2026-10-01"],
    "workdays": ["2026-09-27"],
}


def test_the_configuration_form_is_normalised() -> None:
    assert Calendar.from_json("cn", CHINA, 3).to_json() == {
        "timezone": "Asia/Shanghai",
        "working_hours": {
            "mon": [["09:00", "24:00"]],
            "tue": [["09:00", "12:00"], ["13:00", "18:00"]],
        },
        "holidays": ["2026-10-01", "2026-10-02"],
        "workdays": ["2026-09-27"],
        "workday_hours": [],
    }


def test_the_configuration_form_round_trips() -> None:
    cal = Calendar.from_json("cn", CHINA, 3)
    assert Calendar.from_json("cn", cal.to_json(), 3) == cal
    assert (cal.name, cal.version, cal.working_hours["wed"]) == ("cn", 3, ())


def test_using_a_calendar_does_not_change_its_value() -> None:
    cal, twin = Calendar.from_json("cn", CHINA), Calendar.from_json("cn", CHINA)
    due(cal, FRIDAY_1700, "P2D")
    assert cal == twin and repr(cal) == repr(twin)


def test_a_calendar_built_without_working_time_cannot_compute() -> None:
    empty = Calendar("empty", "UTC", {})
    with pytest.raises(ValueError, match="no working time"):
        due(empty, FRIDAY_1700, "PT1H")


def body(**changes: Any) -> dict[str, Any]:
    return {"timezone": "Europe/Berlin", "working_hours": OFFICE_HOURS, **changes}


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (body(timezone="Mars/Olympus_Mons"), "timezone", "not a known IANA time zone"),
        (body(timezone="../etc/passwd"), "timezone", "IANA time zone"),
        (body(timezone="localtime"), "timezone", "IANA time zone"),
        (body(timezone="right/UTC"), "timezone", "IANA time zone"),
        (body(timezone=8), "timezone", "IANA time zone"),
        ({"working_hours": OFFICE_HOURS}, "timezone", "IANA time zone"),
        (body(working_hours=None), "working_hours", "must map weekdays"),
        (body(working_hours={"monday": [["09:00", "18:00"]]}), "working_hours.monday", "weekday"),
        (body(working_hours={"mon": "09:00-18:00"}), "working_hours.mon", "list of"),
        (body(working_hours={"mon": [["9:00", "18:00"]]}), "working_hours.mon.0", "pair of times"),
        (body(working_hours={"mon": [["09:00", "25:00"]]}), "working_hours.mon.0", "pair of times"),
        (body(working_hours={"mon": [["09:00"]]}), "working_hours.mon.0", "pair of times"),
        (body(working_hours={"mon": [["18:00", "09:00"]]}), "working_hours.mon.0", "end after"),
        (body(working_hours={"mon": [["09:00", "09:00"]]}), "working_hours.mon.0", "end after"),
        (body(working_hours={"mon": [["24:00", "24:00"]]}), "working_hours.mon.0", "24:00"),
        (
            body(working_hours={"mon": [["09:00", "12:00"], ["11:00", "14:00"]]}),
            "working_hours.mon.1",
            "overlaps",
        ),
        (body(working_hours={"mon": [["09:00", "10:00"]] * 13}), "working_hours.mon", "at most"),
        (body(working_hours={"mon": [], "sat": []}), "working_hours", "at least one"),
        (body(working_hours={}), "working_hours", "at least one"),
        (body(holidays="2026-10-01"), "holidays", "list of dates"),
        (body(holidays=["2026-10-01", "20261002"]), "holidays.1", "YYYY-MM-DD"),
        (body(holidays=["2026-02-30"]), "holidays.0", "YYYY-MM-DD"),
        (body(workdays=["1969-12-31"]), "workdays.0", "1970-01-01"),
        (body(holidays=["2026-10-01"] * 2001), "holidays", "at most"),
        (
            body(holidays=["2026-10-01"], workdays=["2026-09-27", "2026-10-01"]),
            "workdays.1",
            "also listed as a holiday",
        ),
        (body(workday_hours=[["10:00", "08:00"]]), "workday_hours.0", "end after"),
        (body(colour="red"), "colour", "not a field"),
    ],
)
def test_unusable_configuration_names_the_field(data: Any, field: str, reason: str) -> None:
    with pytest.raises(FieldError) as raised:
        Calendar.from_json("office", data)
    assert raised.value.field == field
    assert reason in raised.value.reason


# --- properties over random calendars --------------------------------------------------------

ZONES = [
    "Asia/Shanghai",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
]
FIRST, LAST = date(2026, 1, 1), date(2027, 12, 31)


@st.composite
def day_hours(draw: st.DrawFn) -> list[list[str]]:
    """0-3 intervals of a day on a quarter-hour grid; ``24:00`` may end the last."""
    marks = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
    if len(marks) % 2:
        marks = marks[:-1]
    return [
        [f"{a // 4:02d}:{a % 4 * 15:02d}", f"{b // 4:02d}:{b % 4 * 15:02d}" if b < 96 else "24:00"]
        for a, b in zip(marks[::2], marks[1::2], strict=True)
    ]


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    hours = {day: draw(day_hours()) for day in WEEKDAYS}
    assume(any(hours.values()))
    special = st.lists(st.dates(FIRST, LAST), max_size=12, unique=True)
    holidays, workdays = draw(special), draw(special)
    return Calendar.from_json(
        "random",
        {
            "timezone": draw(st.sampled_from(ZONES)),
            "working_hours": hours,
            "holidays": [d.isoformat() for d in holidays],
            "workdays": [d.isoformat() for d in set(workdays) - set(holidays)],
            "workday_hours": draw(st.one_of(st.just([]), day_hours())),
        },
    )


CHANGES = [  # UTC instants of clock changes in ZONES during 2026
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York forward
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Berlin forward
    datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe back half an hour
    datetime(2026, 4, 5, 3, tzinfo=UTC),  # Santiago back, to the day before
    datetime(2026, 9, 6, 4, tzinfo=UTC),  # Santiago forward, skipping midnight
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Lord Howe forward half an hour
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Berlin back
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York back
]
instants = st.one_of(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 1), timezones=st.just(UTC)).map(
        lambda t: t.replace(microsecond=0)
    ),
    st.builds(
        lambda change, seconds: change + timedelta(seconds=seconds),
        st.sampled_from(CHANGES),
        st.integers(-3 * 86_400, 3 * 86_400),
    ),
)
working_amounts = st.integers(0, 12 * 7 * 86_400)
targets = st.builds(
    lambda d, s: Target(d, s, "random"), st.integers(0, 40), st.integers(0, 30 * 3600)
).filter(lambda t: t.days or t.seconds)


def oracle_between(cal: Calendar, start: datetime, end: datetime) -> int:
    """Working seconds summed over every local date's intervals, one date at a time."""
    zone = ZoneInfo(cal.timezone)
    total, day = timedelta(0), start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        for a, b in working_intervals(cal, day):
            total += max(timedelta(0), min(b, end) - max(a, start))
        day += timedelta(days=1)
    return int(total.total_seconds())


@PROPERTIES
@given(calendars(), instants, st.integers(0, 80 * 86_400))
def test_working_seconds_agree_with_a_sum_over_dates(cal: Calendar, start: datetime, span: int):
    end = start + timedelta(seconds=span)
    assert working_seconds_between(cal, start, end) == oracle_between(cal, start, end)


@PROPERTIES
@given(calendars(), instants, working_amounts)
def test_adding_then_measuring_round_trips(cal: Calendar, start: datetime, seconds: int) -> None:
    assert working_seconds_between(cal, start, add_working_seconds(cal, start, seconds)) == seconds


@PROPERTIES
@given(calendars(), instants, st.integers(1, 12 * 7 * 86_400))
def test_adding_gives_the_earliest_such_instant(cal: Calendar, start: datetime, seconds: int):
    found = add_working_seconds(cal, start, seconds)
    assert working_seconds_between(cal, start, found - timedelta(seconds=1)) == seconds - 1


@PROPERTIES
@given(calendars(), instants, working_amounts, working_amounts)
def test_adding_in_two_steps_is_adding_once(cal: Calendar, start: datetime, a: int, b: int):
    once = add_working_seconds(cal, start, a + b)
    assert add_working_seconds(cal, add_working_seconds(cal, start, a), b) == once


@PROPERTIES
@given(calendars(), instants, instants, instants)
def test_working_seconds_add_up_over_consecutive_spans(
    cal: Calendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    whole = working_seconds_between(cal, a, c)
    assert whole == working_seconds_between(cal, a, b) + working_seconds_between(cal, b, c)


@PROPERTIES
@given(calendars(), instants, targets, targets)
def test_the_due_time_is_monotonic_in_the_target(
    cal: Calendar, start: datetime, one: Target, other: Target
) -> None:
    low = Target(min(one.days, other.days), min(one.seconds, other.seconds), "low")
    high = Target(max(one.days, other.days), max(one.seconds, other.seconds), "high")
    assume(low.days or low.seconds)
    assert due_after(cal, start, low) <= due_after(cal, start, high)


@PROPERTIES
@given(calendars(), instants, st.integers(0, 30))
def test_each_more_working_day_ends_later(cal: Calendar, start: datetime, days: int) -> None:
    one_more = due_after(cal, start, Target(days + 1, 0, "more"))
    assert due_after(cal, start, Target(days, 1, "fewer")) < one_more


@PROPERTIES
@given(calendars(), instants, instants, targets)
def test_the_due_time_is_monotonic_in_the_start(
    cal: Calendar, one: datetime, other: datetime, target: Target
) -> None:
    early, late = sorted((one, other))
    assert due_after(cal, early, target) <= due_after(cal, late, target)


@PROPERTIES
@given(calendars(), instants, st.integers(1, 30))
def test_working_days_end_in_working_time_on_a_working_day(
    cal: Calendar, start: datetime, days: int
) -> None:
    found = due_after(cal, start, Target(days, 0, "days"))
    day = found.astimezone(ZoneInfo(cal.timezone)).date()
    spans = [s for d in (day - timedelta(days=1), day) for s in working_intervals(cal, d)]
    assert any(a <= found <= b for a, b in spans)


@PROPERTIES
@given(calendars(), instants, targets, instants, st.integers(0, 30 * 86_400))
def test_pausing_never_makes_a_due_earlier(
    cal: Calendar, start: datetime, target: Target, paused: datetime, pause: int
) -> None:
    due_at = due_after(cal, start, target)
    paused_for = working_seconds_between(cal, paused, paused + timedelta(seconds=pause))
    moved = add_working_seconds(cal, due_at, paused_for)
    assert moved >= due_at
    assert working_seconds_between(cal, due_at, moved) == paused_for


@PROPERTIES
@given(calendars(), instants, working_amounts)
def test_added_working_time_ends_inside_working_time(
    cal: Calendar, start: datetime, seconds: int
) -> None:
    found = add_working_seconds(cal, start, seconds)
    assert seconds == 0 or is_working_time(cal, found - timedelta(seconds=1))


@PROPERTIES
@given(calendars())
def test_random_calendars_round_trip_their_configuration_form(cal: Calendar) -> None:
    assert Calendar.from_json(cal.name, cal.to_json(), cal.version) == cal


def test_a_calendar_of_time_objects_computes_like_its_configuration() -> None:
    built = Calendar(
        "office",
        "Asia/Shanghai",
        {day: ((time(9), time(18)),) if day in OFFICE_HOURS else () for day in WEEKDAYS},
        holidays=frozenset({date(2026, 9, 28)}),
    )
    assert built == calendar(holidays=["2026-09-28"])
    assert due(built, FRIDAY_1700, "PT2H") == at(SHANGHAI, 2026, 9, 29, 10)
