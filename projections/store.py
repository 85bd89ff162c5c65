"""The read-model store: transactions over the event store's own database, and projection tracking.

Read models live in the same database (and PostgreSQL schema) as the events, reached through the
application's database (``projections/database.py``: its connection pool, its SQL dialect).
Tracking positions are kept with the library's tracking recorder (its table, its monotonic upsert),
inside the same transaction as the row changes.

Written by hand on top of them: a compare-and-set claim at the start of each batch (the library's
upsert only refuses to go backwards, which would still let two workers that started from different
positions both apply the same events) and a reset for rebuilds (the library has none). The store
also keeps each projection's dead-letter rows (``projections/quarantine.py``) beside its position,
and announces committed positions to readers waiting for them (PostgreSQL NOTIFY).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking

from projections import quarantine
from projections.database import Database, StoredRow, database_of
from projections.schema import Table

_savepoints = itertools.count(1)


class PositionMovedError(Exception):
    """Raised when a projection's stored position is not the one a batch was read from.

    Another worker advanced it, or a rebuild reset it: the batch is rolled back and the runner
    reloads the position.
    """


RENAMED_PROJECTIONS: Mapping[str, str] = {"complaints": "complaint_list"}
"""Former projection name -> its name now. Stores written under a former name keep their tracking
and dead-letter rows: ``create_tables`` renames them in place, so the view resumes from its
position rather than being rebuilt; the CLI and the retry endpoint accept a former name too."""


def tracking_key(projection_name: str) -> str:
    # The tracking table may be shared with other consumers of this database (SQLite's table
    # name is fixed by the library), so projection rows carry a prefix.
    return f"projection:{projection_name}"


class Tx:
    """One open transaction: a cursor plus the database (and its dialect) it talks to."""

    def __init__(self, cursor: Any, database: Database) -> None:
        self.cursor = cursor
        self.database = database
        self.dialect = database.dialect

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

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Inserts new rows (one statement per batch, as ``upsert``); a stored key fails."""
        self.dialect.write_rows(self.cursor, table, rows, "insert")

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
    """Read-model tables and projection positions, in the event store's own database.

    Every write to a projection's tables goes through ``write`` (one transaction, with the
    projection's position: ``claim`` or ``lock`` first, ``advance`` last); queries read through
    ``read``. What differs between the databases is asked of ``database`` (the application's,
    ``projections/database.py``), so this class holds no SQL dialect of its own.
    """

    def __init__(self, app: Application[UUID]) -> None:
        self.app = app
        self.database = database_of(app)
        self.dialect = self.database.dialect

    @property
    def identity(self) -> str:
        """Names this database (and schema) within the process (see ``Database.identity``)."""
        return self.database.identity

    def head(self) -> int:
        """The last position the runner may read up to: the event store's head."""
        return self.app.recorder.max_notification_id() or 0

    def notifications(
        self, first: int, last: int, topics: Sequence[str]
    ) -> Sequence[Notification | StoredRow]:
        """The notifications of ``topics`` with ``first <= id <= last``, in order (see
        ``Database.notifications_between``)."""
        return self.database.notifications_between(first, last, topics)

    @contextmanager
    def write(
        self, *, durable: bool = True, pipelined: bool = False, one_statement: bool = False
    ) -> Iterator[Tx]:
        """A read-write transaction. ``durable=False`` need not wait for the commit to reach the
        disk: a crash may then lose the last few such commits, each whole (rows and position
        together), which a rebuild simply redoes. ``pipelined``: see ``Database.transaction``
        (no savepoints inside). ``one_statement``: for a single write (one ``Tx.insert`` or
        ``Tx.upsert``), which needs no transaction of its own (``Database.one_write``)."""
        if one_statement:
            with self.database.one_write() as cursor:
                yield Tx(cursor, self.database)
            return
        with self.database.transaction(
            commit=True, durable=durable, pipelined=pipelined
        ) as cursor:
            yield Tx(cursor, self.database)

    @contextmanager
    def read(self, *, one_statement: bool = False) -> Iterator[Tx]:
        """A read-only transaction; with ``one_statement``, for a single statement, which needs
        none (``Database.one_read``)."""
        with (
            self.database.one_read() if one_statement else self.database.transaction(commit=False)
        ) as cursor:
            yield Tx(cursor, self.database)

    # ---- tables ----------------------------------------------------------------------------

    def create_tables(self, tables: Sequence[Table]) -> None:
        """Creates what is missing, secondary indexes included (so a process started after a
        rebuild died before its end gets them back), the dead-letter table and the tracking
        table; then moves the rows of renamed projections to their names now
        (``RENAMED_PROJECTIONS``). Run once per process, by the composition root
        (``infra/bootstrap.py``)."""
        self.database.create_tracking_table()
        with self.write() as tx:
            for table in (*tables, quarantine.QUARANTINE):
                for statement in self.dialect.create_statements(table):
                    tx.execute(statement)
            self.rename_projections(tx, RENAMED_PROJECTIONS)

    def outdated(self, views: Mapping[str, Sequence[Table]]) -> list[str]:
        """The views (name: tables) whose tables exist with other columns than this version
        declares, e.g. after an upgrade that added a measure. A view is made from the events,
        so the cure is ``reset``: a runner then refills it from event zero."""
        stored = self.database.columns_of([t for tables in views.values() for t in tables])
        return [
            name for name, tables in views.items()
            if any(stored[t.name] and stored[t.name] != list(t.column_names) for t in tables)
        ]

    def rename_projections(self, tx: Tx, renamed: Mapping[str, str]) -> None:
        """Moves the tracking and dead-letter rows of each former name to the name now; does
        nothing once done (or for a store that never had the former name).

        Where both names have a row (only if a process of the former version ran after the
        upgrade), the one under the name now wins: it is the position the view's tables were last
        advanced to by this version's code.
        """
        tracking = self.database.tracking_table
        dead_letters = tx.table(quarantine.QUARANTINE.name)
        for former, name in renamed.items():
            old_key, new_key = tracking_key(former), tracking_key(name)
            tx.execute(
                f"UPDATE {tracking} SET application_name = %s WHERE application_name = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {tracking} WHERE application_name = %s)",
                (new_key, old_key, new_key),
            )
            tx.execute(f"DELETE FROM {tracking} WHERE application_name = %s", (old_key,))
            tx.execute(
                f"UPDATE {dead_letters} SET projection = %s WHERE projection = %s AND position "
                f"NOT IN (SELECT position FROM {dead_letters} WHERE projection = %s)",
                (name, former, name),
            )
            tx.execute(f"DELETE FROM {dead_letters} WHERE projection = %s", (former,))

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
                f"DELETE FROM {self.database.tracking_table} WHERE application_name = %s",
                (tracking_key(name),),
            )
            quarantine.clear(tx, name)

    def create_indexes(self, tables: Sequence[Table]) -> None:
        """Builds the secondary indexes a rebuild left out, then refreshes the planner's
        statistics; one durable transaction (which also makes earlier non-durable commits
        durable)."""
        with self.write() as tx:
            for statement in self.dialect.index_build_settings:
                tx.execute(statement)
            for table in tables:
                for statement in self.dialect.index_statements(table):
                    tx.execute(statement)
                analyze = self.dialect.analyze_statement(table)
                if analyze:
                    tx.execute(analyze)

    # ---- tracking --------------------------------------------------------------------------

    def position(self, name: str) -> int:
        return self.database.tracking_position(tracking_key(name)) or 0

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        """Each projection's position (0 if it has none), in one read."""
        if not names:
            return {}
        with self.read() as tx:
            found = self._tracked(tx, names, lock=False)
        return {name: found.get(name, 0) for name in names}

    def _tracked(self, tx: Tx, names: Sequence[str], *, lock: bool) -> dict[str, int]:
        """The stored positions of those of ``names`` that have a tracking row (``lock``: rows
        locked until the transaction ends, in key order, so two lockers never deadlock)."""
        keys = {tracking_key(name): name for name in names}
        marks = ", ".join("%s" for _ in keys)
        rows = tx.rows(
            f"SELECT application_name, notification_id FROM {self.database.tracking_table} "
            f"WHERE application_name IN ({marks}) ORDER BY application_name"
            f"{self.dialect.row_lock if lock else ''}",
            list(keys),
        )
        return {keys[r["application_name"]]: r["notification_id"] for r in rows}

    def claim(self, tx: Tx, name: str, expected: int) -> None:
        """Locks the projection's tracking row and checks it still says ``expected``."""
        self.claim_all(tx, {name: expected})

    def claim_all(self, tx: Tx, expected: Mapping[str, int]) -> None:
        """``claim`` for several projections in one statement (two the first time, when the
        rows are created): a batch claims every view it applies at once."""
        stored = self.lock_all(tx, list(expected))
        for name, position in expected.items():
            if stored[name] != position:
                raise PositionMovedError(f"{name} is at {stored[name]}, not {position}")

    def lock(self, tx: Tx, name: str) -> int:
        """Locks the projection's tracking row until the transaction ends; returns the position.

        Whoever changes a projection's tables (a batch, a retry of quarantined events) holds this
        lock, so they never interleave. The row is created if missing, then read with the
        dialect's row lock (on SQLite the write transaction's own lock excludes other writers).
        """
        return self.lock_all(tx, [name])[name]

    def lock_all(self, tx: Tx, names: Sequence[str]) -> dict[str, int]:
        """``lock`` for several projections: their rows read with the row lock in one statement,
        the missing ones created first."""
        if not names:
            return {}
        stored = self._tracked(tx, names, lock=True)
        if len(stored) < len(names):
            tx.executemany(
                f"INSERT INTO {self.database.tracking_table} (application_name, notification_id) "
                "VALUES (%s, 0) ON CONFLICT (application_name) DO NOTHING",
                [(tracking_key(n),) for n in names if n not in stored],
            )
            stored = self._tracked(tx, names, lock=True)
        return stored

    def advance(self, tx: Tx, name: str, position: int) -> None:
        self.database.record_tracking(tx.cursor, Tracking(tracking_key(name), position))

    def advance_all(self, tx: Tx, names: Sequence[str], position: int) -> None:
        """Moves the projections ``names`` to ``position`` in one statement, never backwards.
        The caller has claimed them (``claim_all``: rows locked, each below ``position``), so
        every row moves."""
        if not names:
            return
        marks = ", ".join("%s" for _ in names)
        tx.execute(
            f"UPDATE {self.database.tracking_table} SET notification_id = %s "
            f"WHERE application_name IN ({marks}) AND notification_id < %s",
            [position, *(tracking_key(n) for n in names), position],
        )

    def announce(self, tx: Tx, positions: Mapping[str, int]) -> None:
        """Tells readers in other processes (``?min_position=`` waits) where the projections will
        be once this transaction commits (``Database.announce_positions``)."""
        self.database.announce_positions(tx.cursor, positions)

    def clamp_stored_instants(self, tables: Sequence[Table]) -> None:
        """See ``Database.clamp_stored_instants``: run once per process, by the composition
        root, with the tables."""
        self.database.clamp_stored_instants(tables)

    def notifications_at(self, positions: Sequence[int]) -> list[Notification]:
        """The notifications at these positions (a retry of quarantined events), in order."""
        found: list[Notification] = []
        for position in sorted(positions):
            found += self.app.recorder.select_notifications(position, limit=1, stop=position)
        return found

    def index_names(self, table: Table) -> set[str]:
        """The names of the table's indexes, primary key included (tests, operations)."""
        return self.database.index_names(table)

    def snapshot(self, table: Table) -> list[dict[str, Any]]:
        """Every row of a table, decoded and in key order (tests, rebuild checks)."""
        with self.read() as tx:
            rows = tx.rows(
                f"SELECT * FROM {tx.table(table.name)} ORDER BY {', '.join(table.key)}"
            )
        return [self.dialect.decode_row(table, r) for r in rows]
