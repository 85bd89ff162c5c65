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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
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


def storable_rows(
    rows: Sequence[Mapping[str, Any]], texts: Sequence[str], instants: Sequence[str]
) -> Sequence[Mapping[str, Any]]:
    """``rows`` with their ``texts`` columns' NUL stripped and ``instants`` columns clamped;
    ``rows`` itself when none needs it (the usual case: checked at C speed, no call per value).
    """
    nul = bool(texts) and _holds_nul(_values(rows, texts))
    if not nul and not _out_of_range(rows, instants):
        return rows
    fixed = []
    for row in rows:
        changed = dict(row)
        for column in texts:
            if isinstance(changed[column], str):
                changed[column] = storable_text(changed[column])
        for column in instants:
            if changed[column] is not None:
                changed[column] = storable_instant(changed[column])
        fixed.append(changed)
    return fixed


def _values(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[Any]:
    get = itemgetter(*columns)
    return map(get, rows) if len(columns) == 1 else chain.from_iterable(map(get, rows))


def _holds_nul(values: Iterable[Any]) -> bool:
    values = list(values)
    try:
        return NUL in "".join(filter(None, values))
    except TypeError:  # a value that is not text: checked one by one
        return any(isinstance(v, str) and NUL in v for v in values)


def _out_of_range(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bool:
    if not columns:
        return False
    present = list(filter(None, _values(rows, columns)))  # instants are never falsy
    if not present:
        return False
    try:
        return bool(min(present) < EARLIEST or max(present) > LATEST)
    except TypeError:  # a naive instant: fix them all (naive ones are taken as UTC)
        return True


def storable_texts(values: Sequence[Any]) -> Sequence[Any]:
    """A column of text (None allowed) without NUL; ``values`` itself when none holds one (the
    usual case, checked at C speed)."""
    if not _holds_nul(values):
        return values
    return [storable_text(v) if isinstance(v, str) else v for v in values]
