"""What a projection is: a name, the event topics it reads, its tables, and a batch handler.

Not a subclass of the library's ``eventsourcing.projection.Projection``: that class processes one
event per call (``process_event(event, tracking)``), and its runner commits one transaction per
event (about 1,600 events/s here). Ours receive a whole decoded batch, so they can load the rows the
batch touches once, fold the events in memory and write each touched row once; the runner commits
the batch and the tracking position together.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from projections.schema import Table
from projections.store import Tx


class Positioned(NamedTuple):
    """A decoded event with its notification id (its position in the store).

    A named tuple: a rebuild makes a million of them, and a frozen dataclass costs several
    times more to construct."""

    position: int
    topic: str
    event: Any


@dataclass(frozen=True)
class Undecodable:
    """Stands in for an event the mapper could not decode: the runner quarantines it for every
    projection that reads its topic, and never hands it to a projection."""

    originator_id: UUID
    originator_version: int
    error: Exception


class Projection(ABC):
    name: str
    topics: tuple[str, ...]
    tables: tuple[Table, ...]

    @abstractmethod
    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        """Transcribes the events (in position order) into the tables; idempotence is the
        runner's job (it never hands the same event over twice)."""
