"""The read-model store: transactions over the event store's own database, and projection tracking.

Read models live in the same database (and PostgreSQL schema) as the events, reached through the
application recorder's datastore (its connection pool). Tracking positions are kept with the
library's tracking recorders (``SQLiteTrackingRecorder``/``PostgresTrackingRecorder``: their table,
their monotonic upsert ``_insert_tracking``), inside the same transaction as the row changes.

Written by hand on top of them: a compare-and-set claim at the start of each batch (the library's
upsert only refuses to go backwards, which would still let two workers that started from different
positions both apply the same events) and a reset for rebuilds (the library has none). The store
also keeps each projection's dead-letter rows (``projections/quarantine.py``) beside its position,
and announces committed positions to readers waiting for them (PostgreSQL NOTIFY).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteTrackingRecorder
from psycopg.sql import SQL, Identifier

from projections import quarantine
from projections.dialect import Dialect, PostgresDialect, SQLiteDialect
from projections.schema import Table
from projections.storable import EARLIEST, LATEST

TRACKING_TABLE_POSTGRES = "projection_tracking"
MAX_CHANNEL_CHARS = 63
"""PostgreSQL truncates identifiers (and refuses channel names) longer than this."""

_savepoints = itertools.count(1)


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

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an error inside undoes only the block's writes (and is raised),
        the rest of the transaction carries on. How a failed batch finds its culprits."""
        name = f"sp_{next(_savepoints)}"
        self.cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.cursor.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self.cursor.execute(f"RELEASE SAVEPOINT {name}")


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

    def dedicated_connection(self) -> psycopg.Connection[Any]:
        """A PostgreSQL session of its own (autocommit), for LISTEN: a pooled one would go back to
        the pool still listening, and hold a pool slot for as long as it listens."""
        configured: Any = self.datastore.pool.kwargs  # a dict (typed loosely upstream)
        kwargs: dict[str, Any] = dict(configured)
        kwargs.pop("row_factory", None)
        return psycopg.connect(**kwargs, autocommit=True, connect_timeout=5)

    @property
    def channel(self) -> str | None:
        """The PostgreSQL channel on which committed positions are announced (None on SQLite).
        Derived from the events channel, so each schema (deployment, test) has its own."""
        recorder = self.app.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            return None
        name = f"{recorder.channel_name}_positions"
        if len(name) > MAX_CHANNEL_CHARS:
            name = f"positions_{hashlib.blake2b(name.encode(), digest_size=16).hexdigest()}"
        return name

    @property
    def identity(self) -> str:
        """Names this database (and schema) within the process: runners and readers of the same
        one share in-process position signals (``projections/position_signal.py``)."""
        if isinstance(self.dialect, PostgresDialect):
            kwargs: Any = self.datastore.pool.kwargs
            where = f"{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('dbname')}"
            return f"postgres://{where}/{self.dialect.schema}"
        name = self.datastore.pool.db_name
        if self.datastore.pool.is_sqlite_memory_mode:
            return f"sqlite-memory:{name}:{id(self.datastore)}"
        return f"sqlite:{os.path.realpath(name)}"

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
        rebuild died before its end gets them back), and the dead-letter table."""
        with self.write() as tx:
            for table in (*tables, quarantine.QUARANTINE):
                for statement in self.dialect.create_statements(table):
                    tx.execute(statement)

    def reset(self, name: str, tables: Sequence[Table], *, secondary: bool = True) -> None:
        """Drops and recreates the tables and forgets the position and the quarantined events
        (a replay meets them again), in one transaction.

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
            quarantine.clear(tx, name)

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
        """Locks the projection's tracking row and checks it still says ``expected``."""
        stored = self.lock(tx, name)
        if stored != expected:
            raise PositionMovedError(f"{name} is at {stored}, not {expected}")

    def lock(self, tx: Tx, name: str) -> int:
        """Locks the projection's tracking row until the transaction ends; returns the position.

        Whoever changes a projection's tables (a batch, a retry of quarantined events) holds this
        lock, so they never interleave. The first statement writes, so SQLite takes its write lock
        before reading (a read-then-write transaction in WAL mode would fail with SQLITE_BUSY if a
        command committed in between).
        """
        key = tracking_key(name)
        tx.execute(
            f"INSERT INTO {self.tracking_table} (application_name, notification_id) "
            "VALUES (%s, 0) ON CONFLICT (application_name) DO NOTHING",
            (key,),
        )
        for_update = " FOR UPDATE" if self.is_postgres else ""
        stored: int = tx.rows(
            f"SELECT notification_id FROM {self.tracking_table} "
            f"WHERE application_name = %s{for_update}",
            (key,),
        )[0]["notification_id"]
        return stored

    def advance(self, tx: Tx, name: str, position: int) -> None:
        self.tracking._insert_tracking(tx.cursor, Tracking(tracking_key(name), position))  # noqa: SLF001

    def announce(self, tx: Tx, positions: Mapping[str, int]) -> None:
        """Tells readers in other processes (``?min_position=`` waits) where the projections will
        be once this transaction commits: a NOTIFY is delivered at commit, or not at all. SQLite
        has no notifications; readers there poll."""
        channel = self.channel
        if channel is not None and positions:
            tx.execute("SELECT pg_notify(%s, %s)", (channel, json.dumps(dict(positions))))

    def clamp_stored_instants(self, tables: Sequence[Table]) -> None:
        """Brings timestamps that PostgreSQL holds but Python cannot read (before year 1 or after
        9999 in UTC, written before encoders clamped them) into the storable range.

        Such rows make every query that reads them fail; a runner runs this once when it starts,
        one statement per table, so upgrading needs no rebuild. SQLite never stored them (the
        encoder failed instead).
        """
        if not self.is_postgres:
            return
        with self.write() as tx:
            for table in tables:
                columns = [c.name for c in table.columns if c.type == "timestamp"]
                if not columns:
                    continue
                # CASE rather than least/greatest, which would turn a NULL into a bound.
                sets = ", ".join(
                    f"{c} = CASE WHEN {c} < %s THEN %s WHEN {c} > %s THEN %s ELSE {c} END"
                    for c in columns
                )
                where = " OR ".join(f"{c} < %s OR {c} > %s" for c in columns)
                tx.execute(
                    f"UPDATE {tx.table(table.name)} SET {sets} WHERE {where}",
                    [EARLIEST, EARLIEST, LATEST, LATEST] * len(columns)
                    + [EARLIEST, LATEST] * len(columns),
                )

    def notifications_at(self, positions: Sequence[int]) -> list[Notification]:
        """The notifications at these positions (a retry of quarantined events), in order."""
        found: list[Notification] = []
        for position in sorted(positions):
            found += self.app.recorder.select_notifications(position, limit=1, stop=position)
        return found

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
