"""The instants and days a complaint can plausibly carry: one bounded range for intake and queries.

Why bound them at all: no complaint predates the Unix epoch or lies a lifetime ahead, and values
at the edges of Python's calendar (year 1, year 9999) overflow as soon as they are converted to
UTC, which the read models, the event feed and every SQL parameter do. Intake refuses instants
outside the range; query parameters (``filed_from``, ``as_of``, analytics days, cursors) are held
to the same range, so no value that passes validation can overflow further in.

The upper bound is a fixed date rather than "now plus N years" so that the range is the same in
every process, test and document. Events stored before the range was enforced may still lie
outside it; readers must tolerate them (see ``tests/poison.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
"""The first plausible instant (inclusive)."""
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)
"""The end of the plausible range (exclusive)."""
EARLIEST_DAY = EARLIEST_INSTANT.date()
"""The first plausible calendar day (inclusive)."""
LATEST_DAY = date(2099, 12, 31)
"""The last plausible calendar day (inclusive)."""

INSTANT_RANGE = "from 1970-01-01T00:00:00Z up to, not including, 2100-01-01T00:00:00Z"
DAY_RANGE = "from 1970-01-01 to 2099-12-31"


def is_plausible_instant(value: datetime) -> bool:
    """Whether the aware ``value`` lies in the range (comparing aware datetimes never overflows,
    even for year 1 with a positive offset, unlike converting them to UTC)."""
    return EARLIEST_INSTANT <= value < LATEST_INSTANT


def is_plausible_day(value: date) -> bool:
    return EARLIEST_DAY <= value <= LATEST_DAY
