"""Applying a batch that failed: find the events at fault without giving up batching.

A page is applied to a projection in one call (one transaction with its position: what makes
rebuilds fast). When that fails with an error an event can cause (``projections/failures.py``),
the page is applied again inside savepoints, halving the failing part until each failure is one
event that fails on its own: the rest is applied in as few calls as the culprits allow (a culprit
among 50,000 events costs about 2 log2(50,000) = 32 calls, not 50,000).

Order per aggregate is kept: once an event of a complaint is quarantined, that complaint's later
events are parked behind it, never applied past it (see ``projections/quarantine.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, PersistenceError

from commands.personal_data_mapper import DataKeyUnavailableError
from projections.failures import ProjectionFaultError, blames_the_event
from projections.projection import Positioned, Projection, Undecodable
from projections.store import Tx


@dataclass
class Settlement:
    applied: list[Positioned] = field(default_factory=list)
    failed: list[tuple[Positioned, Exception]] = field(default_factory=list)
    parked: list[tuple[Positioned, int]] = field(default_factory=list)
    """Events held back, with the position of the quarantined event they wait behind."""


def settle(
    tx: Tx, projection: Projection, events: Sequence[Positioned], held: dict[UUID, int]
) -> Settlement:
    """Applies ``events`` (in position order) to ``projection`` in ``tx``, skipping those at fault.

    ``held`` maps each aggregate that already has a quarantined event to the first one; the
    aggregates of this call's culprits are added to it. Raises, applying nothing, on an error that
    is not an event's fault (``blames_the_event``), and ``ProjectionFaultError`` when the projection
    fails even with no events.
    """
    result = Settlement()
    probed = False

    def hold_back(chunk: Sequence[Positioned]) -> list[Positioned]:
        free = []
        for p in chunk:
            first = held.get(p.event.originator_id)
            if first is None:
                free.append(p)
            else:
                result.parked.append((p, first))
        return free

    def quarantine(p: Positioned, error: Exception) -> None:
        result.failed.append((p, error))
        held.setdefault(p.event.originator_id, p.position)

    def attempt(chunk: Sequence[Positioned]) -> None:
        nonlocal probed
        todo = hold_back(chunk)
        if not todo:
            return
        try:
            with tx.savepoint():
                projection.apply(tx, todo)
        except Exception as error:
            if not blames_the_event(error, tx.database.blames_the_data):
                raise
            if not probed:
                probed = True
                try:
                    with tx.savepoint():
                        projection.apply(tx, [])
                except Exception as fault:
                    raise ProjectionFaultError(
                        f"the {projection.name} projection fails even without events: {fault}"
                    ) from error
            if len(todo) == 1:
                quarantine(todo[0], error)
                return
            middle = len(todo) // 2
            attempt(todo[:middle])
            attempt(todo[middle:])
            return
        result.applied += todo

    # An event that could not be decoded fails without being tried; it splits the batch.
    segment: list[Positioned] = []
    for p in events:
        if not isinstance(p.event, Undecodable):
            segment.append(p)
            continue
        attempt(segment)
        segment = []
        first = held.get(p.event.originator_id)
        if first is None:
            quarantine(p, p.event.error)
        else:
            result.parked.append((p, first))
    attempt(segment)
    return result


def decode_each(mapper: Mapper[UUID], notifications: Sequence[Any]) -> list[Positioned]:
    """The notifications decoded one by one, an ``Undecodable`` standing in for each that the
    mapper cannot decode (so that only those are quarantined)."""
    decoded = []
    for n in notifications:
        try:
            event: Any = mapper.to_domain_event(n)
        except (DataKeyUnavailableError, PersistenceError):
            # Not the event's fault: a master key missing from the configuration, or the data
            # key store unreachable (commands/personal_data_mapper.py). Stop and retry later
            # rather than quarantine every event with personal data.
            raise
        except Exception as error:
            event = Undecodable(n.originator_id, n.originator_version, error)
        decoded.append(Positioned(n.id, n.topic, event))
    return decoded
