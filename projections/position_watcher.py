"""Wakes readers that wait for a view to reach a position (``?min_position=``), with no thread each.

A waiter is an asyncio event registered here; whatever learns that a projection committed a
position sets the events of those waiting for it or less. Positions are learnt from:

- the in-process signal (``projections/position_signal.py``), at once, when the runner shares
  the process (``complaints serve``);
- what the database announces (``Database.watch_positions``): on PostgreSQL, runners in other
  processes (``serve --workers N``, ``complaints projections run``) NOTIFY from each batch's
  transaction, and the positions are also re-read every ``recheck_seconds`` should a
  notification be missed; on SQLite, which has no notifications, they are re-read every
  ``poll_seconds``.

The listening or polling thread (one per API instance, with its own PostgreSQL session, not one
from the pool) runs only while someone waits, and a little longer (``linger_seconds``) so that a
steady trickle of waits does not reconnect each time: an API nobody waits on costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from projections.position_signal import signal_for
from projections.store import ReadModelStore

log = logging.getLogger(__name__)

RECHECK_SECONDS = 1.0
LINGER_SECONDS = 5.0


@dataclass(eq=False)
class Waiter:
    projection: str
    position: int
    loop: asyncio.AbstractEventLoop
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.reached.set)
        except RuntimeError:  # its loop has closed: nobody is waiting any more
            pass


class PositionWatcher:
    def __init__(
        self,
        store: ReadModelStore,
        *,
        poll_seconds: float = 0.1,
        recheck_seconds: float = RECHECK_SECONDS,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.recheck_seconds = recheck_seconds
        self.linger_seconds = linger_seconds
        self.signal = signal_for(store.identity)
        self._waiters: set[Waiter] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._busy_at = 0.0
        self._closed = False

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextmanager
    def waiter(self, projection: str, position: int) -> Iterator[Waiter]:
        """Registers a waiter for the block (call from the event loop that will await it).
        Register *before* reading the current position, so a commit in between is not missed."""
        waiter = Waiter(projection, position, asyncio.get_running_loop())
        with self._lock:
            self._waiters.add(waiter)
            self._busy_at = time.monotonic()
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="position-watcher", daemon=True
                )
                self._thread.start()
        try:
            yield waiter
        finally:
            with self._lock:
                self._waiters.discard(waiter)
                self._busy_at = time.monotonic()

    def learn(self, positions: Mapping[str, int]) -> None:
        """Wakes the waiters these positions satisfy (from any thread)."""
        with self._lock:
            satisfied = [
                w for w in self._waiters
                if not w.reached.is_set() and positions.get(w.projection, -1) >= w.position
            ]
        for waiter in satisfied:
            waiter.wake()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    # ---- the thread ------------------------------------------------------------------------

    def _done(self) -> bool:
        """Whether the thread should end: closed, or nobody waiting for ``linger_seconds``.
        Decided under the lock, so that a waiter registering meanwhile starts a new thread."""
        with self._lock:
            idle = not self._waiters and time.monotonic() - self._busy_at > self.linger_seconds
            if self._closed or idle:
                self._thread = None
                return True
            return False

    def _run(self) -> None:
        # A listener of this thread's own: a thread ending while the next one starts must not
        # unsubscribe the next one's.
        def listener(positions: Mapping[str, int]) -> None:
            self.learn(positions)

        self.signal.subscribe(listener)
        try:
            while True:
                try:
                    news = self.store.database.watch_positions(
                        self._done,
                        poll_seconds=self.poll_seconds,
                        recheck_seconds=self.recheck_seconds,
                    )
                    for positions in news:
                        if positions is None:
                            self._recheck()
                        else:
                            self.learn(positions)
                    return
                except Exception as e:  # waiters still time out and re-read; keep trying
                    log.warning("position watcher: %s; retrying in 1s", e)
                    if self._done():
                        return
                    time.sleep(1.0)
        finally:
            self.signal.unsubscribe(listener)

    def _recheck(self) -> None:
        with self._lock:
            names = sorted({w.projection for w in self._waiters})
        if names:
            self.learn(self.store.positions(names))
