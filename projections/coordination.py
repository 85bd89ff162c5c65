"""Who runs which projection, and how a runner sleeps until there is something new.

A worker holds a named lock for each projection it runs (and the webhook worker one for delivery),
so that at most one worker runs each across processes; a waiting worker gets the lock when the
holder is gone, however it ended. Between batches it waits for new events. How both are done is
the database's business (``Database.coordinator``): on PostgreSQL session advisory locks and
LISTEN on one dedicated session; on SQLite an exclusive ``flock`` per name on a file beside the
database, and polling.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod


class Coordinator(ABC):
    """One worker's locks and its wait for new events; closing it releases every lock it holds.

    Made by ``Database.coordinator``; a context manager that closes on exit.
    """

    @abstractmethod
    def acquire(self, name: str) -> bool:
        """Returns whether this worker holds (or has just taken) the lock ``name``."""

    @abstractmethod
    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Returns when new events may have been recorded, ``stop`` is set, or after at most
        ``timeout`` seconds (which bounds how late a lock takeover is noticed)."""

    @abstractmethod
    def close(self) -> None:
        """Releases every lock held."""

    def release_announced(self) -> bool:
        """Whether another worker announced, since the last call, that it released its locks
        (so that a standby asks for them now rather than at its next periodic ask). Where the
        database cannot announce it (SQLite), never."""
        return False

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
