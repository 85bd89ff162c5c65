"""A view's rows are stored and read back as given, whatever their values hold (both stores).

On PostgreSQL a small batch travels as one text array per column, written by hand
(``infra/databases/postgres.py``, ``array_literal``), and a large one by COPY: the values a
hand-written array text could get wrong (separators, braces, quotes, backslashes, the word NULL,
blanks, line breaks, other scripts, extreme numbers and instants) must come back unchanged on
every path: small and large batches, pipelined (as the projections write while tailing) or not,
or as one statement outside a transaction (the access log's batch), and the key lookup that reads
rows back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from infra.bootstrap import Services
from projections.schema import Table, columns

AWKWARD = Table(
    "awkward_values",
    columns("id uuid, label text?, n int?, flag bool?, at timestamp?, day date?"),
    key=("id",),
)
TEXTS = [
    "a,b", "{x}", 'q"uote', "back\\slash", "NULL", "null", "", " spaced ", "新\n行\t", '\\"',
    '}"{', "x" * 5000, "emoji 😀",
]
NUMBERS = [0, -1, 2**63 - 1, -(2**63), 42]
INSTANTS = [
    datetime(2026, 11, 27, 16, 5, 59, 123456, tzinfo=UTC),
    datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))),  # read back as UTC
    datetime(1970, 1, 1, tzinfo=UTC),
]
DAYS = [date(2026, 2, 28), date(1, 1, 1), date(9999, 12, 31)]


def awkward_rows(n: int) -> list[dict[str, Any]]:
    """``n`` rows cycling through the awkward values, each column now and then NULL."""
    return [
        {
            "id": uuid4(),
            "label": None if i % 7 == 6 else TEXTS[i % len(TEXTS)],
            "n": None if i % 5 == 4 else NUMBERS[i % len(NUMBERS)],
            "flag": None if i % 3 == 2 else i % 2 == 0,
            "at": None if i % 4 == 3 else INSTANTS[i % len(INSTANTS)],
            "day": None if i % 6 == 5 else DAYS[i % len(DAYS)],
        }
        for i in range(n)
    ]


WRITES = {
    "plain": {},
    "pipelined": {"pipelined": True},
    "one-statement": {"one_statement": True},  # PostgreSQL: no transaction, so never COPY
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("rows", [len(TEXTS), 250])  # PostgreSQL: arrays, or COPY from 200 rows
def test_awkward_values_come_back_as_written(services: Services, rows: int, write: str) -> None:
    store = services.read_models
    store.create_tables([AWKWARD])
    written = awkward_rows(rows)
    with store.write(**WRITES[write]) as tx:
        tx.upsert(AWKWARD, written)
    with store.read() as tx:
        stored = tx.fetch(AWKWARD, "id", [row["id"] for row in written])
    assert len(stored) == rows
    for row in written:
        got = stored[row["id"]]  # decoded by the store
        assert got == row
        assert isinstance(got["id"], UUID)


def test_a_nul_in_text_is_stripped_and_the_rest_stored(services: Services) -> None:
    store = services.read_models
    store.create_tables([AWKWARD])
    written = awkward_rows(3)
    written[1]["label"] = "before\x00after"
    with store.write() as tx:
        tx.upsert(AWKWARD, written)
    with store.read() as tx:
        stored = tx.fetch(AWKWARD, "id", [row["id"] for row in written])
    labels = [stored[row["id"]]["label"] for row in written]
    assert labels == [written[0]["label"], "beforeafter", written[2]["label"]]
