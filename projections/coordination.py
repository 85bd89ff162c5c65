"""Who runs which projection, and how a runner sleeps until there is something new.

PostgreSQL: one dedicated session per runner holds a session-level advisory lock per projection it
runs (so at most one worker runs a projection; a waiting worker gets the lock when the holder's
session ends, however it ends) and LISTENs on the channel the library's recorder NOTIFYs on every
insert. It is a separate connection rather than one from the pool: a pooled connection returned with
its locks still held would keep them for whoever borrowed it next.

SQLite has neither: short polling, and an exclusive ``flock`` on a file beside the database per
lock name, which excludes other runners on the machine (the only one a SQLite file can serve) and
is released however the process ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from typing import IO, Any

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier


class Coordinator:
    def acquire(self, name: str) -> bool:
        """Returns whether this runner holds (or has just taken) the projection's lock."""
        return True

    def holds(self, name: str) -> bool:
        return True

    def wait(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(timeout)

    def close(self) -> None:
        pass

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PollingCoordinator(Coordinator):
    def __init__(self, poll_seconds: float, lock_path_prefix: str | None = None) -> None:
        """``lock_path_prefix``: where lock files go (``<prefix>.<name>.lock``); None for no
        locking (an in-memory database lives in one process anyway)."""
        self.poll_seconds = poll_seconds
        self.lock_path_prefix = lock_path_prefix
        self.files: dict[str, IO[bytes]] = {}

    def acquire(self, name: str) -> bool:
        if self.lock_path_prefix is None or name in self.files:
            return True
        # Owner-only like the store beside it (empty, but its name tells who runs what).
        descriptor = os.open(
            f"{self.lock_path_prefix}.{name}.lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        file = os.fdopen(descriptor, "ab")  # held open: closing it releases the lock
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        self.files[name] = file
        return True

    def holds(self, name: str) -> bool:
        return self.lock_path_prefix is None or name in self.files

    def wait(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(min(timeout, self.poll_seconds))

    def close(self) -> None:
        for file in self.files.values():
            file.close()  # releases the flock
        self.files.clear()


def coordinator_for(recorder: object, poll_seconds: float) -> Coordinator:
    """The coordinator that suits the event store's recorder."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresCoordinator(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        pool = recorder.datastore.pool
        if not pool.is_sqlite_memory_mode:
            return PollingCoordinator(poll_seconds, pool.db_name)
    return PollingCoordinator(poll_seconds)


def lock_key(schema: str, name: str) -> int:
    """A signed 64-bit advisory-lock key, distinct per schema so test schemas do not collide."""
    digest = hashlib.blake2b(f"complaint-ledger:{schema}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresCoordinator(Coordinator):
    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        configured: Any = recorder.datastore.pool.kwargs  # a dict (typed loosely upstream)
        pool_kwargs: dict[str, Any] = dict(configured)
        pool_kwargs.pop("row_factory", None)
        self.schema = recorder.datastore.schema
        self.conn = psycopg.connect(**pool_kwargs, autocommit=True, connect_timeout=5)
        self.conn.execute(SQL("LISTEN {}").format(Identifier(recorder.channel_name)))
        self.held: set[str] = set()

    def acquire(self, name: str) -> bool:
        if name in self.held:
            return True
        row = self.conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (lock_key(self.schema, name),)
        ).fetchone()
        if row and row[0]:
            self.held.add(name)
            return True
        return False

    def holds(self, name: str) -> bool:
        return name in self.held

    def wait(self, timeout: float, stop: threading.Event) -> None:
        # Wake on the first notification; the timeout bounds how late a stop or a lock
        # takeover is noticed, and is a safety net should a notification ever be missed.
        for _ in self.conn.notifies(timeout=min(timeout, 1.0), stop_after=1):
            pass

    def close(self) -> None:
        self.held.clear()
        self.conn.close()  # ends the session, which releases its advisory locks
