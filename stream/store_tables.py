"""Our own tables beside the event store: same database, same PostgreSQL schema, same pool.

Webhook subscriptions and relay positions live here rather than in a second database so that a
backup, a schema-per-tenant setup or a test's fresh schema carries them along with the events.
Statements are written once with ``%s`` placeholders and ``{name}`` table slots; the database's
dialect (``projections/dialect.py``) turns them into its own.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from projections.database import database_of


class StoreTables:
    def __init__(self, app: Application[UUID], *names: str) -> None:
        self._database = database_of(app)
        self.tables = {name: self._database.dialect.table(name) for name in names}

    def sql(self, statement: str) -> str:
        return self._database.dialect.sql(statement.format(**self.tables))

    def cursor(self, *, commit: bool) -> AbstractContextManager[Any]:
        """A cursor in a transaction, committed on exit when ``commit`` (rolled back on error);
        a committing one holds the write lock from its start (see ``Database.transaction``)."""
        return self._database.transaction(commit=commit)

    def one_write(self) -> AbstractContextManager[Any]:
        """A cursor for a single write statement, committed on exit (``Database.one_write``:
        outside a transaction where the statement commits by itself)."""
        return self._database.one_write()

    def one_read(self) -> AbstractContextManager[Any]:
        """A cursor for a single read statement (``Database.one_read``: outside a transaction
        where one would cost round trips)."""
        return self._database.one_read()
