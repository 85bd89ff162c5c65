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
from operator import itemgetter
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteTrackingRecorder
from psycopg.sql import SQL, Identifier

from projections.dialect import Dialect, PostgresDialect, SQLiteDialect
from projections.schema import Table

TRACKING_TABLE_POSTGRES = "projection_tracking"


class PositionMovedError(Exception):
    """Raised when a projection's stored position is not the one a batch was read from.

    Another worker advanced it, or a rebuild reset it: the batch is rolled back and the runner
    reloads the position.
    """


def _stored_rows(cursor: Any) -> Any:
    return StoredRow._make


_by_id = itemgetter(0)


def tracking_key(projection_name: str) -> str:
    # The tracking table may be shared with other consumers of this database (SQLite's table
    # name is fixed by the library), so projection rows carry a prefix.
    return f"projection:{projection_name}"


class StoredRow(NamedTuple):
    """A notification as read by ``ReadModelStore.notifications`` on PostgreSQL: the attributes
    of the library's ``Notification`` that its mapper's ``to_domain_event`` reads."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


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

    def notifications(
        self, first: int, last: int, topics: Sequence[str]
    ) -> Sequence[Notification | StoredRow]:
        """The notifications of ``topics`` with ``first <= id <= last``, in order.

        A window of positions rather than "the next N of these topics": asking for the next N
        (``ORDER BY id LIMIT N`` with a topic filter) let PostgreSQL choose to fetch and sort
        the whole rest of the log on every page when its statistics are off, which made a
        rebuild quadratic. The recorder's ``select_notifications`` on SQLite. On PostgreSQL the
        same query by hand, with rows made in C as named tuples: the recorder builds a dict per
        row and then a frozen dataclass, a fifth of a rebuild's Python time (and a rebuild is
        bound by Python: reading, decoding and handlers share one interpreter lock).
        """
        recorder = self.app.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            return recorder.select_notifications(
                first, limit=last - first + 1, stop=last, topics=topics
            )
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {}.{} WHERE notification_id >= %s AND notification_id <= %s "
            "AND topic = ANY(%s)"
        ).format(Identifier(self.datastore.schema), Identifier(recorder.events_table_name))
        with self.datastore.get_connection() as conn:
            with conn.cursor(row_factory=_stored_rows) as cursor:
                cursor.execute(statement, (first, last, list(topics)), prepare=True)
                rows: list[StoredRow] = cursor.fetchall()
        rows.sort(key=_by_id)  # no ORDER BY: whatever the plan, no sort on the server's disk
        return rows

    @property
    def is_postgres(self) -> bool:
        return isinstance(self.dialect, PostgresDialect)

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Tx]:
        """A read-write transaction. ``durable=False`` (PostgreSQL) does not wait for the commit
        to reach the disk: a crash may then lose the last few such commits, each whole (rows and
        position together), which a rebuild simply redoes; the next durable commit makes them
        all durable, since the log is flushed in order."""
        with self.datastore.transaction(commit=True) as cursor:
            if not durable and self.is_postgres:
                cursor.execute("SET LOCAL synchronous_commit = off")
            yield Tx(cursor, self.dialect)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.datastore.transaction(commit=False) as cursor:
            yield Tx(cursor, self.dialect)

    # ---- tables ----------------------------------------------------------------------------

    def create_tables(self, tables: Sequence[Table]) -> None:
        """Creates what is missing, secondary indexes included (so a runner started after a
        rebuild died before its end gets them back)."""
        with self.write() as tx:
            for table in tables:
                for statement in self.dialect.create_statements(table):
                    tx.execute(statement)

    def reset(self, name: str, tables: Sequence[Table], *, secondary: bool = True) -> None:
        """Drops and recreates the tables and forgets the position, in one transaction.

        ``secondary=False`` (a rebuild) recreates them without their secondary indexes: loading
        first and indexing once at the end (``create_indexes``) is much cheaper than keeping
        them up to date row by row.
        """
        with self.write() as tx:
            for table in tables:
                tx.execute(self.dialect.drop_statement(table))
            for table in tables:
                for statement in self.dialect.create_statements(table, secondary=secondary):
                    tx.execute(statement)
            tx.execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name = %s",
                (tracking_key(name),),
            )

    def create_indexes(self, tables: Sequence[Table]) -> None:
        """Builds the secondary indexes a rebuild left out, then refreshes the planner's
        statistics; one durable transaction (which also makes earlier non-durable commits
        durable)."""
        with self.write() as tx:
            if self.is_postgres:
                # Sorting a whole table's keys in memory rather than in spilled runs.
                tx.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for table in tables:
                for statement in self.dialect.index_statements(table):
                    tx.execute(statement)
                analyze = self.dialect.analyze_statement(table)
                if analyze:
                    tx.execute(analyze)

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

    def index_names(self, table: Table) -> set[str]:
        """The names of the table's indexes, primary key included (tests, operations)."""
        with self.read() as tx:
            if isinstance(self.dialect, PostgresDialect):
                rows = tx.rows(
                    "SELECT indexname AS name FROM pg_indexes "
                    "WHERE schemaname = %s AND tablename = %s",
                    (self.dialect.schema, table.name),
                )
            else:
                rows = tx.rows(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s",
                    (table.name,),
                )
        return {r["name"] for r in rows}

    def snapshot(self, table: Table) -> list[dict[str, Any]]:
        """Every row of a table, decoded and in key order (tests, rebuild checks)."""
        with self.read() as tx:
            rows = tx.rows(
                f"SELECT * FROM {tx.table(table.name)} ORDER BY {', '.join(table.key)}"
            )
        return [self.dialect.decode_row(table, r) for r in rows]
