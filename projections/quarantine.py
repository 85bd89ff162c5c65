"""The dead-letter table: events a projection could not apply, kept so the view can move on.

One row per (projection, position). A *failed* row is an event that failed on its own (see
``projections/failures.py``), with its error class and message, when it first and last failed and
how many times it was tried. A *parked* row (``parked_behind`` set) is a later event of the same
aggregate, held back unapplied: once a complaint's ``Filed`` (say) is quarantined, applying its
``Assigned`` or ``Closed`` would be silently dropped (the views ignore events of complaints they do
not know) or, worse, applied to a row that missed a step. Parking keeps each complaint's row at a
consistent earlier version, and ``retry`` replays the failed event and everything parked behind it
in position order, as dead-letter queues that keep per-key ordering do.

Only positions and ids are kept, never the event's data: it stays in the event store (personal data
is not copied), and a retry reads it from there. Rows are written in the batch's own transaction,
together with the position that moves past them, and a projection's reset deletes its rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from projections.failures import error_class
from projections.schema import Table, columns

if TYPE_CHECKING:  # both import the store, which imports this module
    from projections.projection import Positioned
    from projections.store import Tx

MESSAGE_MAX_CHARS = 500

QUARANTINE = Table(
    name="projection_quarantine",
    columns=columns(
        "projection text, position int, originator_id uuid, originator_version int, "
        "topic text, error_class text, error_message text, parked_behind int?, "
        "attempts int, first_failed_at timestamp, last_failed_at timestamp"
    ),
    key=("projection", "position"),
)

PARKED = "parked"
"""The ``error_class`` of a parked row."""


@dataclass(frozen=True)
class Quarantined:
    projection: str
    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    error_class: str
    error_message: str
    parked_behind: int | None
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime

    @classmethod
    def failure(
        cls, projection: str, p: Positioned, error: BaseException, now: datetime
    ) -> Quarantined:
        return cls(
            projection, p.position, p.event.originator_id, p.event.originator_version, p.topic,
            error_class(error), message(error), None, 1, now, now,
        )

    @classmethod
    def parking(cls, projection: str, p: Positioned, behind: int, now: datetime) -> Quarantined:
        return cls(
            projection, p.position, p.event.originator_id, p.event.originator_version, p.topic,
            PARKED, parked_message(behind), behind, 0, now, now,
        )

    def failed_again(self, error: BaseException, now: datetime) -> Quarantined:
        return replace(
            self, error_class=error_class(error), error_message=message(error),
            parked_behind=None, attempts=self.attempts + 1, last_failed_at=now,
        )

    def held_behind(self, behind: int) -> Quarantined:
        return replace(
            self, error_class=PARKED, error_message=parked_message(behind), parked_behind=behind
        )

    def row(self) -> dict[str, Any]:
        return {c.name: getattr(self, c.name) for c in QUARANTINE.columns}


def message(error: BaseException) -> str:
    """The error's message, first line only and bounded (it is shown to API callers)."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:MESSAGE_MAX_CHARS]


def parked_message(behind: int) -> str:
    return f"held behind the quarantined event at position {behind} of the same complaint"


def record(tx: Tx, entries: list[Quarantined]) -> None:
    tx.upsert(QUARANTINE, [e.row() for e in entries])


def remove(tx: Tx, projection: str, positions: list[int]) -> None:
    table = tx.table(QUARANTINE.name)
    for i in range(0, len(positions), 500):
        chunk = positions[i : i + 500]
        marks = ", ".join("%s" for _ in chunk)
        tx.execute(
            f"DELETE FROM {table} WHERE projection = %s AND position IN ({marks})",
            [projection, *chunk],
        )


def clear(tx: Tx, projection: str) -> None:
    tx.execute(f"DELETE FROM {tx.table(QUARANTINE.name)} WHERE projection = %s", (projection,))


def held_aggregates(tx: Tx, projection: str) -> dict[UUID, int]:
    """Each aggregate with quarantined events, and the first of them: later events of these
    aggregates are parked behind it."""
    rows = tx.rows(
        f"SELECT originator_id, min(position) AS first FROM {tx.table(QUARANTINE.name)} "
        "WHERE projection = %s GROUP BY originator_id",
        (projection,),
    )
    return {tx.decode(QUARANTINE, "originator_id", r["originator_id"]): r["first"] for r in rows}


def entries(
    tx: Tx, projection: str, *, limit: int | None = None, after: int = 0
) -> list[Quarantined]:
    """The projection's rows in position order (from ``after``, at most ``limit``)."""
    bound = "" if limit is None else f" LIMIT {int(limit)}"
    rows = tx.rows(
        f"SELECT * FROM {tx.table(QUARANTINE.name)} WHERE projection = %s AND position > %s "
        f"ORDER BY position{bound}",
        (projection, after),
    )
    return [Quarantined(**tx.dialect.decode_row(QUARANTINE, r)) for r in rows]


def counts(tx: Tx) -> dict[str, int]:
    """Rows per projection (only those that have any)."""
    rows = tx.rows(
        f"SELECT projection, count(*) AS n FROM {tx.table(QUARANTINE.name)} GROUP BY projection"
    )
    return {r["projection"]: r["n"] for r in rows}
