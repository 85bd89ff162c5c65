"""Values every read-model store, and Python itself, can hold: instants clamped, NUL stripped.

Intake refuses such values now, but stores written before it did hold events with instants whose
UTC value is before year 1 or after 9999 (``astimezone`` overflows; PostgreSQL stores them but
psycopg cannot read them back) and text with NUL characters (PostgreSQL text cannot hold one).
A view must still transcribe those events, so the dialects pass every timestamp and text value
through here on the way in, and the analytics projection cuts days through ``storable_instant``:
one rule, the same on both stores, so the views agree.

The bounds keep two days from Python's limits, so that converting a clamped instant to any time
zone (offsets stay within a day) still cannot overflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

EARLIEST = datetime(1, 1, 3, tzinfo=UTC)
LATEST = datetime(9999, 12, 29, 23, 59, 59, 999999, tzinfo=UTC)
NUL = "\x00"


def storable_instant(moment: datetime) -> datetime:
    """``moment`` within [EARLIEST, LATEST]; a naive one is taken as UTC (as stored events mean)."""
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    if moment < EARLIEST:
        return EARLIEST
    if moment > LATEST:
        return LATEST
    return moment


def storable_text(text: str) -> str:
    return text.replace(NUL, "") if NUL in text else text


def storable_instants(values: Sequence[Any]) -> Sequence[Any]:
    """A column of instants (None allowed), clamped; ``values`` itself when nothing needs it.

    The check runs at C speed (``min``/``max``), so the common case costs almost nothing in a
    rebuild; a naive value makes the comparison fail and takes the value-by-value path.
    """
    present = [v for v in values if v is not None]
    if not present:
        return values
    try:
        if min(present) >= EARLIEST and max(present) <= LATEST:
            return values
    except TypeError:  # naive and aware mixed: fall through and fix each
        pass
    return [None if v is None else storable_instant(v) for v in values]


def storable_texts(values: Sequence[Any]) -> Sequence[Any]:
    """A column of text (None allowed), NUL stripped; ``values`` itself when none holds one."""
    try:
        if NUL not in "".join(filter(None, values)):
            return values
    except TypeError:  # a non-str value: left for the store to refuse (and the runner to report)
        return values
    return [storable_text(v) if isinstance(v, str) else v for v in values]
