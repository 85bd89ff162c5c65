"""Caps on open event streams: per token and per process.

Each Server-Sent Events connection holds a socket and wakes on every new event for as long as it
lives, so one token (a leaked one, or a client reconnecting in a loop) must not be able to hold them
all. The counts are per server process: with ``--workers N`` the total is N times the cap.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable


class TooManyStreamsError(Exception):
    """Raised when opening a stream would pass the per-token or the per-process cap."""


class StreamSlot:
    """One open stream's share of the caps; ``release`` may be called any number of times."""

    def __init__(self, slots: StreamSlots, key: Hashable) -> None:
        self._slots = slots
        self._key = key
        self._released = False

    def release(self) -> None:
        with self._slots.lock:
            if self._released:
                return
            self._released = True
            self._slots.release_locked(self._key)


class StreamSlots:
    def __init__(self, total: int, per_key: int) -> None:
        self.total = total
        self.per_key = per_key
        self.lock = threading.Lock()
        self._open: Counter[Hashable] = Counter()

    def acquire(self, key: Hashable) -> StreamSlot:
        with self.lock:
            if self._open[key] >= self.per_key:
                raise TooManyStreamsError(
                    f"this token already has {self.per_key} open event streams"
                )
            if self._open.total() >= self.total:
                raise TooManyStreamsError("the server has no free event stream slot")
            self._open[key] += 1
        return StreamSlot(self, key)

    def release_locked(self, key: Hashable) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    def open_count(self, key: Hashable | None = None) -> int:
        with self.lock:
            return self._open.total() if key is None else self._open[key]
