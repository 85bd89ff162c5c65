"""Faults injected into projections by tests: a process killed mid-way, events a handler refuses.

A killed process is a ``BaseException`` here: code cannot catch its own death, so the runner must
not treat it as an event's fault (it quarantines nothing and leaves the transaction undone).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

from projections.projection import Positioned, Projection
from projections.store import Tx

P = TypeVar("P", bound=Projection)


class Killed(BaseException):
    """Stands for the process dying (SIGKILL, power loss) at the point where it is raised."""


class Refusing:
    """Makes a projection raise for the events of chosen complaints (a handler bug, or data it
    cannot make sense of), counting how often it was handed each of them."""

    def __init__(self, error: Exception | None = None, *, times: int | None = None) -> None:
        """``times``: raise only that many times (a transient condition that clears)."""
        self.refused: set[UUID] = set()
        self.error = error or ValueError("cannot transcribe this complaint")
        self.times = times
        self.attempts: Counter[int] = Counter()
        self.raised_at: list[float] = []
        self.calls = 0

    def check(self, events: Sequence[Positioned]) -> None:
        self.calls += 1
        bad = [p for p in events if p.event.originator_id in self.refused]
        for p in bad:
            self.attempts[p.position] += 1
        if bad and (self.times is None or len(self.raised_at) < self.times):
            self.raised_at.append(time.monotonic())
            raise self.error


def refusing(projection_class: type[P], fault: Refusing) -> P:
    """An instance of ``projection_class`` whose ``apply`` first lets ``fault`` check the batch."""

    class RefusingProjection(projection_class):  # type: ignore[valid-type,misc]
        def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
            fault.check(events)
            super().apply(tx, events)

    return RefusingProjection()  # type: ignore[no-any-return]
