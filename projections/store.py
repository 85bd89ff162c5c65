"""The read-model store: transactions over the event store's own database, and projection tracking.

Read models live in the same database (and PostgreSQL schema) as the events, reached through the
application recorder's datastore (its connection pool). Tracking positions are kept with the
library's tracking recorders (``SQLiteTrackingRecorder``/``PostgresTrackingRecorder``: their table,
their monotonic upsert ``_insert_tracking``), inside the same transaction as the row changes.

Written by hand on top of them: a compare-and-set claim at the start of each batch (the library's
upsert only refuses to go backwards, which would still let two workers that started from different
positions both apply the same events) and a reset for rebuilds (the library has none).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteTrackingRecorder

from projections.dialect import Dialect, PostgresDialect, SQLiteDialect
from projections.schema import Table

TRACKING_TABLE_POSTGRES = "projection_tracking"


class PositionMovedError(Exception):
    """Raised when a projection's stored position is not the one a batch was read from.

    Another worker advanced it, or a rebuild reset it: the batch is rolled back and the runner
    reloads the position.
    """


def tracking_key(projection_name: str) -> str:
    # The tracking table may be shared with other consumers of this database (SQLite's table
    # name is fixed by the library), so projection rows carry a prefix.
    return f"projection:{projection_name}"


class Tx:
    """One open transaction: a cursor plus the dialect that knows how to talk to it."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def table(self, name: str) -> str:
        return self.dialect.table(name)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self.dialect.sql(statement), params)

    def executemany(self, statement: str, params: Sequence[Sequence[Any]]) -> None:
        if params:
            self.cursor.executemany(self.dialect.sql(statement), params)

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.execute(statement, params)
        return [dict(r) for r in self.cursor.fetchall()]

    def fetch(self, table: Table, key: str, values: Sequence[Any]) -> dict[Any, dict[str, Any]]:
        return {r[key]: r for r in self.dialect.select_by_keys(self.cursor, table, key, values)}

    def upsert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        self.dialect.write_rows(self.cursor, table, rows, "replace")

    def add(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Adds the rows' non-key values to the stored ones (creating missing rows)."""
        self.dialect.write_rows(self.cursor, table, rows, "add")

    def encode(self, table: Table, column: str, value: Any) -> Any:
        return self.dialect.encode(table.types[column], value)

    def decode(self, table: Table, column: str, value: Any) -> Any:
        return self.dialect.decode(table.types[column], value)


class ReadModelStore:
    def __init__(self, app: Application[UUID]) -> None:
        recorder = app.recorder
        self.app = app
        self.tracking: SQLiteTrackingRecorder | PostgresTrackingRecorder
        if isinstance(recorder, PostgresApplicationRecorder):
            self.datastore: Any = recorder.datastore
            self.dialect: Dialect = PostgresDialect(recorder.datastore.schema)
            self.tracking = PostgresTrackingRecorder(
                recorder.datastore, tracking_table_name=TRACKING_TABLE_POSTGRES
            )
            self.tracking_table = self.dialect.table(TRACKING_TABLE_POSTGRES)
        elif isinstance(recorder, SQLiteApplicationRecorder):
            self.datastore = recorder.datastore
            self.dialect = SQLiteDialect()
            self.tracking = SQLiteTrackingRecorder(recorder.datastore)
            self.tracking_table = "tracking"
        else:  # pragma: no cover - the app is only ever built on these two
            raise TypeError(f"read models need SQLite or PostgreSQL, not {type(recorder)!r}")
        self.tracking.create_table()

    @property
    def is_postgres(self) -> bool:
        return isinstance(self.dialect, PostgresDialect)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self.datastore.transaction(commit=True) as cursor:
            yield Tx(cursor, self.dialect)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.datastore.transaction(commit=False) as cursor:
            yield Tx(cursor, self.dialect)

    # ---- tables ----------------------------------------------------------------------------

    def create_tables(self, tables: Sequence[Table]) -> None:
        with self.write() as tx:
            for table in tables:
                for statement in self.dialect.create_statements(table):
                    tx.execute(statement)

    def reset(self, name: str, tables: Sequence[Table]) -> None:
        """Drops and recreates the tables and forgets the position, in one transaction."""
        with self.write() as tx:
            for table in tables:
                tx.execute(self.dialect.drop_statement(table))
            for table in tables:
                for statement in self.dialect.create_statements(table):
                    tx.execute(statement)
            tx.execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name = %s",
                (tracking_key(name),),
            )

    # ---- tracking --------------------------------------------------------------------------

    def position(self, name: str) -> int:
        return self.tracking.max_tracking_id(tracking_key(name)) or 0

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        return {name: self.position(name) for name in names}

    def claim(self, tx: Tx, name: str, expected: int) -> None:
        """Locks the projection's tracking row and checks it still says ``expected``.

        The first statement writes, so SQLite takes its write lock before reading (a read-then-write
        transaction in WAL mode would fail with SQLITE_BUSY if a command committed in between).
        """
        key = tracking_key(name)
        tx.execute(
            f"INSERT INTO {self.tracking_table} (application_name, notification_id) "
            "VALUES (%s, 0) ON CONFLICT (application_name) DO NOTHING",
            (key,),
        )
        lock = " FOR UPDATE" if self.is_postgres else ""
        stored = tx.rows(
            f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = %s{lock}",
            (key,),
        )[0]["notification_id"]
        if stored != expected:
            raise PositionMovedError(f"{name} is at {stored}, not {expected}")

    def advance(self, tx: Tx, name: str, position: int) -> None:
        self.tracking._insert_tracking(tx.cursor, Tracking(tracking_key(name), position))  # noqa: SLF001

    def snapshot(self, table: Table) -> list[dict[str, Any]]:
        """Every row of a table, decoded and in key order (tests, rebuild checks)."""
        with self.read() as tx:
            rows = tx.rows(
                f"SELECT * FROM {tx.table(table.name)} ORDER BY {', '.join(table.key)}"
            )
        return [self.dialect.decode_row(table, r) for r in rows]
