"""Our own tables beside the event store: same database, same PostgreSQL schema, same pool.

Webhook subscriptions and relay positions live here rather than in a second database so that a
backup, a schema-per-tenant setup or a test's fresh schema carries them along with the events.
Statements are written once with ``%s`` placeholders and ``{name}`` table slots.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder


class StoreTables:
    def __init__(self, app: Application[UUID], *names: str) -> None:
        recorder = app.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            schema = recorder.datastore.schema.replace('"', '""')
            self.tables = {name: f'"{schema}".{name}' for name in names}
            self.is_postgres = True
        elif isinstance(recorder, SQLiteApplicationRecorder):
            self.tables = {name: name for name in names}
            self.is_postgres = False
        else:
            raise TypeError(f"unsupported recorder {type(recorder).__name__}")
        self._datastore = recorder.datastore

    def sql(self, statement: str) -> str:
        statement = statement.format(**self.tables)
        return statement if self.is_postgres else statement.replace("%s", "?")

    @contextmanager
    def cursor(self, *, commit: bool) -> Iterator[Any]:
        """A cursor in a transaction, committed on exit when ``commit`` (rolled back on error)."""
        with self._datastore.transaction(commit=commit) as cursor:
            # SQLite's datastore hands out the library's cursor wrapper; use the real cursor.
            cursor = getattr(cursor, "sqlite_cursor", cursor)
            if commit and not self.is_postgres:
                # Take the write lock before any read. The library begins a deferred transaction;
                # one that reads and then writes while another connection (the projection
                # runner's, the webhook worker's: each has its own pool) has committed meanwhile
                # fails at once with "database is locked", without waiting for the lock.
                self._take_sqlite_write_lock(cursor)
            yield cursor

    def _take_sqlite_write_lock(self, cursor: Any) -> None:
        """A write that changes nothing: SQLite takes its write lock (waiting up to the lock
        timeout for it) at the first write statement of a transaction."""
        table = next(iter(self.tables.values()))
        try:
            cursor.execute(f"UPDATE {table} SET rowid = rowid WHERE 0")
        except sqlite3.OperationalError as e:
            if "no such table" not in str(e):  # this very transaction may be creating it
                raise
