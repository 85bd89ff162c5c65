"""One row per complaint: how the views that keep one (the complaint list, workload's cases,
analytics' cases) read their complaint events and fold a batch of them into their rows.

A batch loads the rows of the complaints it touches once, folds each event into its complaint's
row in memory (a filing makes the row) and leaves writing them to the view, which writes each
touched row once, however many of its events the batch holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from projections.projection import Positioned
from projections.schema import Table
from projections.store import Tx

Row = dict[str, Any]
Transcribe = Callable[[Row | None, Positioned], Row]
"""The row after the event: a new one for a filing (``None`` given), else the given one, changed."""


def topics_of(*events: type) -> tuple[str, ...]:
    """The stored topics of these event classes (what a view declares as its ``topics``)."""
    return tuple(get_topic(cls) for cls in events)


def rows_to_change(tx: Tx, table: Table, events: Sequence[Positioned]) -> dict[int, Row]:
    """The rows (by their ``id``'s integer) of the complaints whose events the batch holds,
    except those it files: those rows do not exist yet, their ``Filed`` makes them.

    Keyed by ``UUID.int`` rather than the UUID: a UUID hashes and compares in Python, an int in
    C, and a rebuild looks a complaint's row up tens of millions of times."""
    filed: set[int] = set()
    touched: dict[int, UUID] = {}
    for p in events:
        complaint_id = p.event.originator_id
        if type(p.event) is Complaint.Filed:
            filed.add(complaint_id.int)
        else:
            touched[complaint_id.int] = complaint_id
    wanted = [complaint_id for key, complaint_id in touched.items() if key not in filed]
    return {r["id"].int: r for r in tx.dialect.select_by_keys(tx.cursor, table, "id", wanted)}


def fold(rows: dict[int, Row], events: Sequence[Positioned], transcribe: Transcribe) -> None:
    """Transcribes each event, in order, into its complaint's entry of ``rows`` (keyed as
    ``rows_to_change`` keys them).

    An event of a complaint the view has no row for (filed before the view's history began) is
    skipped: there is nothing to change."""
    for p in events:
        key = p.event.originator_id.int
        row = rows.get(key)
        if row is None and type(p.event) is not Complaint.Filed:
            continue
        rows[key] = transcribe(row, p)
