"""Our own tables beside the event store: same database, same PostgreSQL schema, same pool.

Webhook subscriptions and relay positions live here rather than in a second database so that a
backup, a schema-per-tenant setup or a test's fresh schema carries them along with the events.
Statements are written once with ``%s`` placeholders and ``{name}`` table slots.
"""

from __future__ import annotations

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
            yield getattr(cursor, "sqlite_cursor", cursor)
