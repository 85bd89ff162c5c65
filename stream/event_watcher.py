"""Wakes stream readers when new events may have been recorded.

One watcher per process serves every SSE connection, webhook worker and relay, so waiting costs no
query per reader. How it learns of new events is the database's (``Database.watch_events``): on
PostgreSQL it LISTENs on the channel the recorder NOTIFYs on each insert; on SQLite (no
notifications) it polls the head. Either way readers re-read the store themselves: a wake-up only
says "look again", and readers also look again after ``poll_seconds`` as a safety net.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from uuid import UUID

from eventsourcing.application import Application

from projections.database import database_of

log = logging.getLogger(__name__)


class EventWatcher:
    def __init__(self, app: Application[UUID], poll_seconds: float = 0.2) -> None:
        self._app = app
        self._poll_seconds = poll_seconds
        self._generation = 0
        self._changed = threading.Condition()
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    @property
    def generation(self) -> int:
        """Take this *before* reading the store, then wait for it to change."""
        return self._generation

    def start(self) -> EventWatcher:
        """Idempotent, so the API can start it on the first stream request only."""
        with self._starting:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="event-watcher", daemon=True
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        with self._starting:
            self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._bump()

    def notify(self) -> None:
        """Tells waiters to look again (also used by in-process writers and tests)."""
        self._bump()

    def wait(self, generation: int, timeout: float) -> bool:
        """Blocks until the generation moves past ``generation``; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._generation != generation or self._stopping.is_set(), timeout
            )

    async def wait_async(self, generation: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        self._async_waiters.add(waiter)
        try:
            if self._generation != generation:
                return True
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                return False
            return True
        finally:
            self._async_waiters.discard(waiter)

    def _bump(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()
        for loop, event in list(self._async_waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the waiter's loop has closed
                self._async_waiters.discard((loop, event))

    def _run(self) -> None:
        database = database_of(self._app)
        while not self._stopping.is_set():
            try:
                for _ in database.watch_events(self._stopping, self._poll_seconds):
                    self._bump()
            except Exception as e:  # keep serving: readers still re-check on their own timer
                log.warning("event watcher: %s; retrying in 1s", e)
                self._stopping.wait(1.0)
