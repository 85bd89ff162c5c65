"""Wakes stream readers when new events may have been recorded.

One watcher per process serves every SSE connection, webhook worker and relay, so waiting costs no
query per reader. On PostgreSQL it LISTENs on the channel the recorder NOTIFYs on each insert; on
SQLite (no notifications) it polls the head. Either way readers re-read the store themselves: a
wake-up only says "look again", and readers also look again after ``poll_seconds`` as a safety net.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

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
        recorder = self._app.recorder
        while not self._stopping.is_set():
            try:
                if isinstance(recorder, PostgresApplicationRecorder):
                    self._listen(recorder)
                else:
                    self._poll()
            except Exception as e:  # keep serving: readers still re-check on their own timer
                log.warning("event watcher: %s; retrying in 1s", e)
                self._stopping.wait(1.0)

    def _listen(self, recorder: PostgresApplicationRecorder) -> None:
        with recorder.datastore.get_connection() as conn:
            conn.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))
            # Events recorded while (re)connecting were not notified to us.
            self._bump()
            try:
                while not self._stopping.is_set():
                    for _ in conn.notifies(timeout=0.1, stop_after=1):
                        self._bump()
            finally:
                # The connection goes back to the shared pool: leave it deaf again.
                conn.execute("UNLISTEN *")

    def _poll(self) -> None:
        last = self._app.recorder.max_notification_id() or 0
        while not self._stopping.wait(self._poll_seconds):
            current = self._app.recorder.max_notification_id() or 0
            if current != last:
                last = current
                self._bump()
