"""Applying quarantined events again, once whatever made them fail is fixed.

``complaints projections retry NAME`` and ``POST /projections/{name}/retry``: the projection's
quarantined events are read back from the event store (the quarantine keeps positions, not data)
and applied in position order with the same isolation as a failed batch: those that now succeed
leave the quarantine, together with the events parked behind them (applied in order); those that
still fail stay, with one more attempt and their new error. Each page of the quarantine is one
transaction that holds the projection's lock, so a running worker never interleaves its batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from projections import quarantine
from projections.isolation import decode_each, settle
from projections.projection import Projection
from projections.quarantine import Quarantined
from projections.store import ReadModelStore

log = logging.getLogger(__name__)


@dataclass
class RetryReport:
    projection: str
    applied: int = 0
    parked: int = 0
    """Events still held back behind one that still fails."""
    still_failing: list[Quarantined] = field(default_factory=list)


def retry_quarantined(
    store: ReadModelStore, projection: Projection, *, page_size: int = 1000
) -> RetryReport:
    report = RetryReport(projection.name)
    held: dict[UUID, int] = {}  # carried across pages: later pages park behind earlier failures
    after = 0
    while True:
        now = datetime.now(UTC)
        # The events are read and decoded before the write transaction, not inside it: on SQLite
        # a read (or the data-key lookup of a sealed event) inside it waits for the connection
        # pool, which a command waiting for the writer holds: a deadlock until a timeout. Stored
        # events never change, so reading them early is safe; the entries are read again below.
        with store.read() as tx:
            listed = quarantine.entries(tx, projection.name, after=after, limit=page_size)
        if not listed:
            break
        decoded = decode_each(
            store.app.mapper, store.notifications_at([e.position for e in listed])
        )
        with store.write() as tx:
            store.lock(tx, projection.name)
            # Entries as they are now, under the lock; one quarantined since the read above
            # (beyond the events read) waits for the next retry.
            found = [
                e
                for e in quarantine.entries(tx, projection.name, after=after, limit=page_size)
                if e.position <= listed[-1].position
            ]
            if not found:
                break
            by_position = {e.position: e for e in found}
            events = [e for e in decoded if e.position in by_position]
            settlement = settle(tx, projection, events, held)
            quarantine.remove(tx, projection.name, [p.position for p in settlement.applied])
            again = [by_position[p.position].failed_again(e, now) for p, e in settlement.failed]
            still_parked = [
                by_position[p.position].held_behind(behind) for p, behind in settlement.parked
            ]
            quarantine.record(tx, again + still_parked)
            after = found[-1].position
        report.applied += len(settlement.applied)
        report.parked += len(still_parked)
        report.still_failing += again
    log.info(
        "%s: retried quarantined events: %s applied, %s still failing, %s parked",
        projection.name, report.applied, len(report.still_failing), report.parked,
    )
    return report
