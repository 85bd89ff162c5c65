"""PostgreSQL: the event store's recorder, with everything the service needs of a PostgreSQL server.

A server shared by many processes, with schemas, LISTEN/NOTIFY and advisory locks. So: our tables
in the event store's schema with native types and bulk writes (``PostgresDialect``), a window read
of the log that makes its rows in C, advisory locks and LISTEN on a session of their own, positions
announced with NOTIFY in the committing transaction, repairs of instants Python cannot read, and
the SQLSTATE classes that say "environment".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from itertools import accumulate
from operator import itemgetter
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing import postgres as library
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import retry
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from aggregates.audit_chain import GENESIS, ChainHead, event_hash
from projections.coordination import Coordinator
from projections.database import ChainRow, Database, StoredRow
from projections.dialect import Dialect
from projections.schema import LogicalType, Table
from projections.storable import EARLIEST, LATEST, storable_instant, storable_rows, storable_text

TRACKING_TABLE = "projection_tracking"
MAX_IDENTIFIER_CHARS = 63
"""PostgreSQL truncates identifiers (and refuses channel names) longer than this."""
BACKFILL_PAGE = 20_000
"""Rows read per fetch while migrating a store to the hash chain."""
STAGE_MIN_ROWS = 200
RELEASED = "released"
"""The payload of the notification a worker sends on the events' channel as it gives up its
locks (``AdvisoryLocks.close``): standing-by workers then ask for them at once."""
"""From this many rows, writes go through COPY into a staging table (see
``PostgresDialect.write_rows``); below it, one ``unnest`` statement is the cheaper round trip."""

# SQLSTATE classes that no data value can cause: connection (08), transaction rollback:
# serialization failure, deadlock (40), insufficient resources (53), object not in prerequisite
# state: lock not available (55), operator intervention: query cancelled, admin shutdown (57),
# system error (58), syntax or access rule: undefined table or column, privilege (42), invalid
# schema (3F), authorization (28), aborted transaction (25), internal error (XX).
ENVIRONMENT_CLASSES = frozenset({"08", "25", "28", "3F", "40", "42", "53", "55", "57", "58", "XX"})


class PostgresDialect(Dialect):
    """Native types; rows written in one statement per batch (``unnest`` of column arrays, or COPY
    into a staging table for large batches), instants clamped by the statement itself."""

    kind = "postgres"
    row_lock = " FOR UPDATE"
    like_ignoring_case = "ILIKE"
    # Sorting a whole table's keys in memory rather than in spilled runs.
    index_build_settings = ("SET LOCAL maintenance_work_mem = '256MB'",)
    _types: dict[str, str] = {
        "uuid": "uuid",
        "text": "text",
        "int": "bigint",
        "bool": "boolean",
        "timestamp": "timestamptz",
        "date": "date",
    }

    _copy_types: dict[str, str] = {
        "uuid": "uuid",
        "text": "text",
        "int": "int8",
        "bool": "bool",
        "timestamp": "timestamptz",
        "date": "date",
    }

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._quoted_schema = '"' + schema.replace('"', '""') + '"'

    def table(self, name: str) -> str:
        return f'{self._quoted_schema}."{name}"'

    def column_type(self, logical: LogicalType) -> str:
        return self._types[logical]

    def encode(self, logical: LogicalType, value: Any) -> Any:
        if logical == "text" and isinstance(value, str):
            return storable_text(value)
        if logical == "timestamp" and value is not None:
            return storable_instant(value)
        return value

    def analyze_statement(self, table: Table) -> str | None:
        return f"ANALYZE {self.table(table.name)}"

    def write_rows(
        self, cursor: Any, table: Table, rows: Sequence[Mapping[str, Any]], mode: str
    ) -> None:
        # One statement per batch rather than executemany: a single round trip and plan. Small
        # batches pass column arrays (unnest). Large ones COPY into a staging table first:
        # psycopg dumps array parameters element by element in Python (a quarter of a rebuild's
        # time), while COPY formats rows in C; the upsert then reads the staging table.
        #
        # Values are made storable without a Python pass over them (a rebuild's rows are
        # millions): instants are clamped by the statement itself (``_storable_columns``), and
        # text is stripped of NUL only when PostgreSQL refuses it, which is rare and cheap to
        # detect: psycopg refuses to send such a parameter (nothing reaches the server), and
        # COPY fails on the server (the write then rolls back to its savepoint).
        if not rows:
            return
        # COPY cannot run in a pipeline (``transaction(pipelined=True)``), and its staging
        # needs a transaction, which ``Database.one_write`` does not open: arrays there.
        connection = cursor.connection
        if (
            len(rows) < STAGE_MIN_ROWS
            or connection.pgconn.pipeline_status
            or connection.info.transaction_status == TransactionStatus.IDLE
        ):
            try:
                self._write_small(cursor, table, rows, mode)
            except psycopg.DataError as refused:
                if refused.sqlstate is not None:  # the server's: not a value psycopg refused
                    raise
                self._write_small(cursor, table, without_nul(table, rows), mode)
            return
        cursor.execute("SAVEPOINT write_rows")
        try:
            self._write_large(cursor, table, rows, mode)
        except psycopg.errors.CharacterNotInRepertoire:  # UTF-8 0x00: a NUL
            cursor.execute("ROLLBACK TO SAVEPOINT write_rows")
            self._write_large(cursor, table, without_nul(table, rows), mode)
        cursor.execute("RELEASE SAVEPOINT write_rows")

    def _write_small(
        self, cursor: Any, table: Table, rows: Sequence[Mapping[str, Any]], mode: str
    ) -> None:
        names = table.column_names
        arrays = ", ".join(f"%s::{self._types[c.type]}[]" for c in table.columns)
        source = f"unnest({arrays}) AS v({', '.join(names)})"
        statement = self.upsert_statement(table, mode).replace(
            "{values}", f"SELECT {self._storable_columns(table)} FROM {source}"
        )
        cursor.execute(
            statement, [array_literal(c.type, [r[c.name] for r in rows]) for c in table.columns]
        )

    def _write_large(
        self, cursor: Any, table: Table, rows: Sequence[Mapping[str, Any]], mode: str
    ) -> None:
        names = table.column_names
        stage = self._stage(cursor, table)
        # Binary: about four times cheaper to format than text; the types are declared, so a
        # value of the wrong Python type fails loudly instead of being coerced.
        values: Callable[[Mapping[str, Any]], Any] = (
            itemgetter(*names) if len(names) > 1 else lambda r: (r[names[0]],)
        )
        with cursor.copy(f"COPY {stage} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([self._copy_types[c.type] for c in table.columns])
            for r in rows:
                copy.write_row(values(r))
        cursor.execute(
            self.upsert_statement(table, mode).replace(
                "{values}", f"SELECT {self._storable_columns(table)} FROM {stage}"
            )
        )
        # Emptied in the same transaction: a second write to this table in the batch must not
        # see these rows again (and a rollback undoes the COPY and this alike).
        cursor.execute(f"TRUNCATE {stage}")

    def _storable_columns(self, table: Table) -> str:
        """The select list of a write: each column, instants clamped into the storable range
        (PostgreSQL holds instants Python cannot read back; see ``projections/storable.py``)."""
        earliest, latest = f"'{EARLIEST.isoformat()}'", f"'{LATEST.isoformat()}'"
        return ", ".join(
            f"CASE WHEN {c.name} < {earliest} THEN timestamptz {earliest} "
            f"WHEN {c.name} > {latest} THEN timestamptz {latest} ELSE {c.name} END"
            if c.type == "timestamp" else c.name
            for c in table.columns
        )

    def _stage(self, cursor: Any, table: Table) -> str:
        """A session-local (temporary) table shaped like ``table``.

        Its name carries a digest of the columns, so a pooled session that outlives a change of
        the table's columns gets a new staging table rather than a stale one. Created if missing
        on every use (one cheap statement per large write): remembering it per connection would
        go wrong when the creating transaction rolls back.
        """
        shape = ",".join(f"{c.name}:{c.type}" for c in table.columns)
        name = f"stage_{table.name}_{hashlib.blake2b(shape.encode(), digest_size=4).hexdigest()}"
        columns = ", ".join(f"{c.name} {self._types[c.type]}" for c in table.columns)
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})")
        return f"pg_temp.{name}"

    def select_by_keys(
        self, cursor: Any, table: Table, key: str, values: Iterable[Any]
    ) -> list[dict[str, Any]]:
        keys = list(values)
        if not keys:
            return []
        logical = table.types[key]
        cast = self._types[logical]
        cursor.execute(
            f"SELECT * FROM {self.table(table.name)} WHERE {key} = ANY(%s::{cast}[])",
            (array_literal(logical, keys),),
        )
        return list(cursor.fetchall())  # the store's cursors make dict rows

    def pairs(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        return (
            "SELECT * FROM unnest(%s::text[], %s::text[])",
            [[storable_text(a) for a, _ in pairs], [storable_text(b) for _, b in pairs]],
        )

    def texts(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        return "SELECT unnest(%s::text[])", [[storable_text(v) for v in values]]


def array_literal(logical: LogicalType, values: list[Any]) -> str | list[Any]:
    """``values`` as the text of a PostgreSQL array of ``logical`` (``{...}``), which the
    statement casts; or, when one is not of the Python type the column holds (or is text with a
    NUL), the list itself, which psycopg dumps (or refuses) as it always did.

    Written by hand because psycopg dumps a list element by element in Python: that was a third
    of the projections worker's CPU while tailing, and most of an access-log batch's
    (docs/performance.md, "PostgreSQL's share", session 24). Here each element is one cheap
    conversion and the join is C. Text is always quoted (inside quotes only ``"`` and ``\\`` are
    special, so commas, braces, blanks and the word NULL stay data); the other types print
    without those characters."""
    convert = _ELEMENT_TEXT[logical]
    parts: list[str] = []
    append = parts.append
    for value in values:
        if value is None:
            append("NULL")
            continue
        text = convert(value)
        if text is None:
            return values
        append(text)
    literal = "{" + ",".join(parts) + "}"
    return values if "\x00" in literal else literal


def _text_element(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_ELEMENT_TEXT: dict[str, Callable[[Any], str | None]] = {
    "text": _text_element,
    # 32 hex digits: PostgreSQL reads a uuid without its hyphens, and .hex is cheaper than str().
    "uuid": lambda v: v.hex if type(v) is UUID else None,
    "int": lambda v: str(v) if type(v) is int else None,
    "bool": lambda v: ("t" if v else "f") if type(v) is bool else None,
    # ISO 8601 with its offset (or none: then the session's zone, as psycopg's naive dump).
    "timestamp": lambda v: v.isoformat() if type(v) is datetime else None,
    "date": lambda v: v.isoformat() if type(v) is date else None,
}


def without_nul(table: Table, rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    return storable_rows(rows, [c.name for c in table.columns if c.type == "text"], ())


def lock_key(schema: str, name: str) -> int:
    """A signed 64-bit advisory-lock key, distinct per schema so test schemas do not collide."""
    digest = hashlib.blake2b(f"complaint-ledger:{schema}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLocks(Coordinator):
    """Locks as session-level advisory locks, held by a session of the worker's own (a waiting
    worker gets a lock when the holder's session ends, however it ends); the same session LISTENs
    on the channel the recorder NOTIFYs on every insert. Not a pooled connection: one returned
    with its locks still held would keep them for whoever borrowed it next."""

    def __init__(self, session: psycopg.Connection[Any], schema: str, channel: str) -> None:
        self.schema = schema
        self.conn = session
        self.channel = channel
        self.conn.execute(SQL("LISTEN {}").format(Identifier(channel)))
        self.held: set[str] = set()
        self._released = False

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

    def wait(self, timeout: float, stop: threading.Event) -> None:
        # Wake on the first notification; the timeout bounds how late a stop or a lock
        # takeover is noticed, and is a safety net should a notification ever be missed.
        for notice in self.conn.notifies(timeout=min(timeout, 1.0), stop_after=1):
            # An insert's notification has no payload; a release's says so (``close``).
            self._released = self._released or notice.payload == RELEASED

    def close(self) -> None:
        if self.held and not self.conn.closed:
            # Released first, then every waiting worker woken (they LISTEN on the same channel):
            # a standby takes over now rather than at the end of its wait.
            with contextlib.suppress(psycopg.Error):
                self.conn.execute("SELECT pg_advisory_unlock_all()")
                self.conn.execute("SELECT pg_notify(%s, %s)", (self.channel, RELEASED))
        self.held.clear()
        self.conn.close()  # ends the session, which releases its advisory locks anyway

    def release_announced(self) -> bool:
        released, self._released = self._released, False
        return released


def _stored_rows(cursor: Any) -> Any:
    return StoredRow._make


_by_id = itemgetter(0)


def _notification(row: Mapping[str, Any]) -> Notification:
    """A notification from an event table row read with the datastore's dict rows."""
    return Notification(
        id=row["notification_id"],
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


class PostgresDatabase(Database, PostgresApplicationRecorder):
    """The library's PostgreSQL application recorder, plus ``Database``; every event inserted
    is chained by a trigger of the events table (``_chain_trigger``)."""

    positions_are_dense = False  # a rolled-back insert has taken its sequence values

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self._events = SQL("{}.{}").format(
            Identifier(datastore.schema), Identifier(events_table_name)
        )
        self.sql_create_statements[self.create_table_statement_index] = SQL(
            # The library's table, with the chain's two columns.
            "CREATE TABLE IF NOT EXISTS {table} ("
            "originator_id {originator_id_type} NOT NULL, "
            "originator_version bigint NOT NULL, "
            "topic text, "
            "state bytea, "
            "notification_id bigserial, "
            "prev_hash bytea, "
            "hash bytea, "
            "PRIMARY KEY "
            "(originator_id, originator_version)) "
            "WITH ("
            "    autovacuum_enabled = true,"
            "    autovacuum_vacuum_threshold = 100000000,"
            "    autovacuum_vacuum_scale_factor = 0.5,"
            "    autovacuum_analyze_threshold = 1000,"
            "    autovacuum_analyze_scale_factor = 0.01"
            ")"
        ).format(
            table=self._events,
            originator_id_type=Identifier(datastore.originator_id_type),
        )
        self.dialect = PostgresDialect(datastore.schema)
        self.tracking_table = self.dialect.table(TRACKING_TABLE)
        self.tracking = PostgresTrackingRecorder(datastore, tracking_table_name=TRACKING_TABLE)
        events = SQL("{}.{}").format(Identifier(datastore.schema), Identifier(events_table_name))
        self._select_positions = SQL(
            "SELECT originator_version, notification_id FROM {} WHERE originator_id = %s"
        ).format(events)
        # The events of one aggregate after a version: the repository's fast-forward of a cached
        # aggregate (``select_events``, every command) and the latest-complaint read
        # (``events_after``, every GET). Rendered once: psycopg renders a composed statement to
        # bytes on each execute (the library also composes its own from pieces on each call),
        # and the library's ``SELECT *`` also fetches the chain's two hashes, which nothing
        # reading events uses.
        self._select_after_version = (
            SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
                "WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version"
            )
            .format(events)
            .as_bytes(None)
        )
        self._select_first_events = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) AND originator_version <= %s"
        ).format(events)
        self._select_of_originator = SQL(
            "SELECT * FROM {} WHERE originator_id = %s AND notification_id > %s "
            "AND notification_id <= %s AND topic = ANY(%s) ORDER BY notification_id LIMIT %s"
        ).format(events)
        self._select_window = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {} WHERE notification_id >= %s AND notification_id <= %s AND topic = ANY(%s)"
        ).format(events)
        # One channel per schema: a NOTIFY reaches every session of the database, and another
        # schema is another deployment (tenant, test) whose positions say nothing about ours;
        # woken by them, a read-your-writes wait returned before the view had caught up. (The
        # library's events channel is not per schema either: a wake-up it sends only makes its
        # listeners look again.)
        positions = f"{datastore.schema}_{self.channel_name}_positions"
        if len(positions) > MAX_IDENTIFIER_CHARS:
            digest = hashlib.blake2b(positions.encode(), digest_size=16).hexdigest()
            positions = f"positions_{digest}"
        self.positions_channel = positions
        self._insert_locked = self._one_trip_insert(datastore, events_table_name)
        self._chain_trigger(datastore, events_table_name)

    def _chain_trigger(self, datastore: PostgresDatastore, table_name: str) -> None:
        """Creates (with the library's tables) a BEFORE INSERT trigger that sets each new row's
        ``prev_hash`` and ``hash`` (``aggregates/audit_chain.py``), whatever the insert gave:
        so every write path chains (our one-trip function, the library's insert with tracking,
        COPY), in the same statement, under the table lock each of them takes. The trigger
        sees the rows inserted before it by the same statement (a VOLATILE function does), so
        several events of one aggregate in one insert chain to each other."""
        function = SQL("{}.{}").format(
            Identifier(datastore.schema), Identifier(f"{table_name}_chain")
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger "
                "LANGUAGE plpgsql VOLATILE AS $body$ DECLARE topic_bytes bytea; BEGIN "
                "NEW.prev_hash := NULL; "
                "IF NEW.originator_version > 1 THEN "
                "SELECT t.hash INTO NEW.prev_hash FROM {table} t "
                "WHERE t.originator_id = NEW.originator_id "
                "AND t.originator_version = NEW.originator_version - 1; "
                "END IF; "
                "NEW.prev_hash := coalesce(NEW.prev_hash, decode(repeat('00', 32), 'hex')); "
                "topic_bytes := convert_to(NEW.topic, 'UTF8'); "
                "NEW.hash := sha256(NEW.prev_hash || uuid_send(NEW.originator_id) "
                "|| int8send(NEW.originator_version) "
                "|| int4send(octet_length(topic_bytes)) || topic_bytes "
                "|| int4send(octet_length(NEW.state)) || NEW.state); "
                "RETURN NEW; END $body$"
            ).format(function=function, table=self._events)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE TRIGGER {trigger} BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION {function}()"
            ).format(
                trigger=Identifier(f"{table_name}_chain"), table=self._events, function=function
            )
        )

    def create_table(self) -> None:
        self._create_schema()
        self._migrate_to_chain()
        super().create_table()

    def _create_schema(self) -> None:
        """Creates the store's schema (``?schema=NAME``) when it is missing, so ``migrate`` on a
        new database needs no step by hand. Looked up first: ``CREATE SCHEMA IF NOT EXISTS``
        needs the CREATE privilege on the database even when the schema exists (made by a DBA
        for a role that may only use it)."""
        schema = self.datastore.schema
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            if cursor.fetchone() is None:
                cursor.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))

    def _migrate_to_chain(self) -> None:
        """Adds the chain's columns to a store from before them and hashes its events, in one
        transaction under the table lock (so a store has either no chain columns or every event
        chained); in Python, in (aggregate, version) order, written back through COPY."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s",
                (self.datastore.schema, self.events_table_name),
            )
            columns = {row["column_name"] for row in cursor.fetchall()}
            if not columns or "hash" in columns:
                return
            self._lock_table(cursor)
            cursor.execute(
                SQL(
                    "ALTER TABLE {} ADD COLUMN IF NOT EXISTS prev_hash bytea,"
                    " ADD COLUMN IF NOT EXISTS hash bytea"
                ).format(self._events)
            )
            cursor.execute(
                "CREATE TEMP TABLE chain_backfill"
                " (notification_id bigint, prev_hash bytea, hash bytea) ON COMMIT DROP"
            )
            conn = cursor.connection
            last: tuple[UUID | None, int, bytes] = (None, 0, GENESIS)
            with conn.cursor("chain_backfill_rows", row_factory=tuple_row) as rows:
                rows.execute(
                    SQL(
                        "SELECT notification_id, originator_id, originator_version, topic, state"
                        " FROM {} ORDER BY originator_id, originator_version"
                    ).format(self._events)
                )
                while page := rows.fetchmany(BACKFILL_PAGE):
                    chained = []
                    for position, originator_id, version, topic, state in page:
                        same = originator_id == last[0] and version == last[1] + 1
                        prev = last[2] if same else GENESIS
                        digest = event_hash(prev, originator_id, version, topic, bytes(state))
                        chained.append((position, prev, digest))
                        last = (originator_id, version, digest)
                    # One COPY per page: the connection reads no rows while it copies.
                    with conn.cursor() as writer, writer.copy(
                        "COPY chain_backfill FROM STDIN (FORMAT BINARY)"
                    ) as copy:
                        copy.set_types(["int8", "bytea", "bytea"])
                        for values in chained:
                            copy.write_row(values)
            cursor.execute(
                SQL(
                    "UPDATE {} t SET prev_hash = b.prev_hash, hash = b.hash FROM chain_backfill b"
                    " WHERE t.notification_id = b.notification_id"
                ).format(self._events)
            )

    # ---- the hash chain ---------------------------------------------------------------------

    def chain_rows(self, after: int, limit: int) -> Sequence[ChainRow]:
        with self.datastore.get_connection() as conn:
            with conn.cursor(row_factory=tuple_row, binary=True) as cursor:
                cursor.execute(
                    SQL(
                        "SELECT notification_id, originator_id, originator_version, topic,"
                        " state, prev_hash, hash FROM {} WHERE notification_id > %s"
                        " ORDER BY notification_id LIMIT %s"
                    ).format(self._events),
                    (after, limit),
                    prepare=True,
                )
                return list(map(ChainRow._make, cursor.fetchall()))

    def chain_of(self, originator_id: UUID) -> Sequence[ChainRow]:
        with self.datastore.get_connection() as conn:
            with conn.cursor(row_factory=tuple_row, binary=True) as cursor:
                cursor.execute(
                    SQL(
                        "SELECT notification_id, originator_id, originator_version, topic,"
                        " state, prev_hash, hash FROM {} WHERE originator_id = %s"
                        " ORDER BY originator_version"
                    ).format(self._events),
                    (originator_id,),
                    prepare=True,
                )
                return list(map(ChainRow._make, cursor.fetchall()))

    def chain_heads(self, up_to: int | None = None) -> tuple[int, list[ChainHead]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot
            if up_to is None:
                cursor.execute(SQL("SELECT max(notification_id) AS top FROM {}").format(
                    self._events
                ))
                found = cursor.fetchone()
                up_to = (found["top"] if found else None) or 0
            cursor.execute(
                SQL(
                    "SELECT DISTINCT ON (originator_id) originator_id, originator_version, hash"
                    " FROM {} WHERE notification_id <= %s"
                    " ORDER BY originator_id, originator_version DESC"
                ).format(self._events),
                (up_to,),
            )
            heads = [
                ChainHead(
                    row["originator_id"],
                    row["originator_version"],
                    bytes(row["hash"]) if row["hash"] is not None else GENESIS,
                )
                for row in cursor.fetchall()
            ]
        return up_to, heads

    def _one_trip_insert(self, datastore: PostgresDatastore, table_name: str) -> Any:
        """Creates (with the library's tables) a function that does what the library's insert
        does, in one round trip rather than a pipeline of five statements and a commit: take the
        table lock (so notification ids commit in order), NOTIFY the library's channel, insert,
        return the ids; called on an autocommit connection, the call is its own transaction.
        The library's own database function (``POSTGRES_ENABLE_DB_FUNCTIONS``) takes no lock.
        On this machine kind the library's insert cost 1.4 ms of CPU and this one 0.17 ms."""
        function = SQL("{}.{}").format(
            Identifier(datastore.schema), Identifier(f"{table_name}_insert_locked")
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {function}("
                "ids uuid[], versions bigint[], topics text[], states bytea, starts int[], "
                "lengths int[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ BEGIN "
                "SET LOCAL lock_timeout = '{timeout}s'; "
                "LOCK TABLE {table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {table} "
                "(originator_id, originator_version, topic, state) "
                "SELECT i, v, t, substring(states FROM s FOR n) "
                "FROM unnest(ids, versions, topics, starts, lengths) AS e(i, v, t, s, n) "
                "RETURNING notification_id; "
                "END $body$"
            ).format(
                function=function,
                timeout=datastore.lock_timeout,
                table=SQL("{}.{}").format(Identifier(datastore.schema), Identifier(table_name)),
                channel=Identifier(self.channel_name),
            )
        )
        return SQL(
            "SELECT id FROM {}(%s::uuid[], %s::bigint[], %s::text[], %s::bytea, %s::int[], "
            "%s::int[]) AS inserted(id)"
        ).format(function)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        if gt is None or lte is not None or desc or limit is not None:
            return super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        return self._events_after(originator_id, gt)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's
    def _events_after(self, originator_id: UUID | str, gt: int) -> Sequence[StoredEvent]:
        # ``events_after``'s statement; the library's own type (no position) for the repository.
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._select_after_version, (originator_id, gt), prepare=True)
            return [
                StoredEvent(originator_id=i, originator_version=v, topic=t, state=bytes(s))
                for _, i, v, t, s in curs.fetchall()
            ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if kwargs.get("tracking") is not None or not stored_events:  # the library's way
            return super().insert_events(stored_events, **kwargs)
        # The states go as one bytea cut by the function (1-based starts, lengths): psycopg
        # dumps a bytea[] element by element in Python, 20 us a kilobyte; one bytea costs
        # nothing.
        lengths = [len(e.state) for e in stored_events]
        starts = list(accumulate(lengths[:-1], initial=1))
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                self._insert_locked,
                (
                    array_literal("uuid", [e.originator_id for e in stored_events]),
                    array_literal("int", [e.originator_version for e in stored_events]),
                    array_literal("text", [e.topic for e in stored_events]),
                    b"".join(e.state for e in stored_events),
                    array_literal("int", starts),
                    array_literal("int", lengths),
                ),
                prepare=True,
            )
            return [row["id"] for row in cursor.fetchall()]

    # ---- the notification log ---------------------------------------------------------------

    # Single reads on the autocommit connection, not in ``datastore.transaction``: its BEGIN and
    # ROLLBACK are two more round trips that a single statement does not need.

    def event_positions(self, originator_id: UUID) -> dict[int, int]:
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._select_positions, (originator_id,), prepare=True)
            return {row["originator_version"]: row["notification_id"] for row in cursor.fetchall()}

    def events_after(self, originator_id: UUID | str, version: int) -> Sequence[Notification]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._select_after_version, (originator_id, version), prepare=True)
            return [
                Notification(id=n, originator_id=i, originator_version=v, topic=t, state=bytes(s))
                for n, i, v, t, s in curs.fetchall()
            ]

    def first_events(self, originator_ids: Sequence[UUID], up_to: int) -> Sequence[StoredEvent]:
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._select_first_events, (list(originator_ids), up_to), prepare=True)
            return [StoredEvent(**row) for row in cursor.fetchall()]

    def notifications_of(
        self, originator_id: UUID, *, after: int, stop: int, limit: int, topics: Sequence[str]
    ) -> Sequence[Notification]:
        # The primary key starts with the originator id: an index range scan.
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._select_of_originator, (originator_id, after, stop, topics, limit))
            rows = cursor.fetchall()
        return [_notification(row) for row in rows]

    def notifications_between(
        self, first: int, last: int, topics: Sequence[str]
    ) -> Sequence[Notification | StoredRow]:
        # The recorder's own query, with rows made in C as named tuples: the recorder builds a
        # dict per row and then a frozen dataclass, a fifth of a rebuild's Python time (and a
        # rebuild is bound by Python: reading, decoding and handlers share one interpreter lock).
        with self.datastore.get_connection() as conn:
            with conn.cursor(row_factory=_stored_rows) as cursor:
                cursor.execute(self._select_window, (first, last, list(topics)), prepare=True)
                rows: list[StoredRow] = cursor.fetchall()
        rows.sort(key=_by_id)  # no ORDER BY: whatever the plan, no sort on the server's disk
        return rows

    def append_in_bulk(self, events: Iterable[StoredEvent]) -> int:
        # As insert_events does: the table locked against other writers (notification ids are
        # given in commit order), listeners told; the ids come from the column's sequence.
        copy_events = SQL(
            "COPY {}.{} (originator_id, originator_version, topic, state)"
            " FROM STDIN (FORMAT BINARY)"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        written = 0
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            with curs.copy(copy_events) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for e in events:
                    copy.write_row((e.originator_id, e.originator_version, e.topic, e.state))
                    written += 1
        return written

    # ---- our own tables ---------------------------------------------------------------------

    @contextmanager
    def transaction(
        self, *, commit: bool, durable: bool = True, pipelined: bool = False
    ) -> Iterator[Any]:
        with contextlib.ExitStack() as stack:
            if pipelined:
                # The pipeline around the transaction: BEGIN, the writes and COMMIT go out
                # without waiting; only a read (and the end) waits for what was sent before it.
                conn = stack.enter_context(self.datastore.get_connection())
                stack.enter_context(conn.pipeline())
                stack.enter_context(conn.transaction(force_rollback=not commit))
                cursor = conn.cursor()
            else:
                cursor = stack.enter_context(self.datastore.transaction(commit=commit))
            if commit and not durable:
                # The commit returns before the log reaches the disk; the next durable commit
                # makes it durable, since the log is flushed in order.
                cursor.execute("SET LOCAL synchronous_commit = off")
            yield cursor

    def one_read(self) -> AbstractContextManager[Any]:
        # The pool's connections are in autocommit: no BEGIN and ROLLBACK around the statement
        # (two round trips and about 190 us of client CPU per read; docs/performance.md,
        # "Reads, session 23"), as ``events_after`` reads the event store.
        return self._autocommit_cursor()

    def one_write(self) -> AbstractContextManager[Any]:
        # The statement commits by itself (durably: ``synchronous_commit`` stays on), and the
        # dialect's batched write stays one statement outside a transaction (``write_rows``).
        return self._autocommit_cursor()

    @contextmanager
    def _autocommit_cursor(self) -> Iterator[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            yield cursor

    def index_names(self, table: Table) -> set[str]:
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT indexname AS name FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                (self.datastore.schema, table.name),
            )
            return {row["name"] for row in cursor.fetchall()}

    def column_names(self, table: Table) -> list[str]:
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT column_name AS name FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (self.datastore.schema, table.name),
            )
            return [row["name"] for row in cursor.fetchall()]

    def columns_of(self, tables: Sequence[Table]) -> dict[str, list[str]]:
        # One round trip instead of a transaction per table (~14 at each process start).
        columns: dict[str, list[str]] = {table.name: [] for table in tables}
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT table_name AS table, column_name AS name FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = ANY(%s)"
                " ORDER BY table_name, ordinal_position",
                (self.datastore.schema, list(columns)),
            )
            for row in cursor.fetchall():
                columns[row["table"]].append(row["name"])
        return columns

    def clamp_stored_instants(self, tables: Sequence[Table]) -> None:
        """Such rows make every query that reads them fail; one statement per table, so that
        upgrading needs no rebuild."""
        with self.transaction(commit=True) as cursor:
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
                cursor.execute(
                    f"UPDATE {self.dialect.table(table.name)} SET {sets} WHERE {where}",
                    [EARLIEST, EARLIEST, LATEST, LATEST] * len(columns)
                    + [EARLIEST, LATEST] * len(columns),
                )

    # ---- coordination and news --------------------------------------------------------------

    @property
    def identity(self) -> str:
        kwargs: Any = self.datastore.pool.kwargs
        where = f"{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('dbname')}"
        return f"postgres://{where}/{self.datastore.schema}"

    def coordinator(self, poll_seconds: float) -> Coordinator:
        return AdvisoryLocks(self._session(), self.datastore.schema, self.channel_name)

    def watch_events(self, stop: threading.Event, poll_seconds: float) -> Iterator[None]:
        with self._session() as conn:
            conn.execute(SQL("LISTEN {}").format(Identifier(self.channel_name)))
            yield  # events recorded while (re)connecting were not notified to us
            while not stop.is_set():
                for _ in conn.notifies(timeout=0.1, stop_after=1):
                    yield

    def announce_positions(self, cursor: Any, positions: Mapping[str, int]) -> None:
        # A NOTIFY is delivered at commit, or not at all.
        if positions:
            cursor.execute(
                "SELECT pg_notify(%s, %s)", (self.positions_channel, json.dumps(dict(positions)))
            )

    def watch_positions(
        self, done: Callable[[], bool], *, poll_seconds: float, recheck_seconds: float
    ) -> Iterator[Mapping[str, int] | None]:
        with self._session() as conn:
            conn.execute(SQL("LISTEN {}").format(Identifier(self.positions_channel)))
            checked = time.monotonic()
            yield None  # what was committed before we listened
            while not done():
                for notice in conn.notifies(timeout=min(0.5, recheck_seconds), stop_after=1):
                    yield json.loads(notice.payload)
                if time.monotonic() - checked >= recheck_seconds:
                    checked = time.monotonic()
                    yield None

    def _session(self) -> psycopg.Connection[Any]:
        """A session of its own (autocommit), for LISTEN and session locks: a pooled one would
        go back to the pool still listening (or locking), and hold a pool slot meanwhile."""
        configured: Any = self.datastore.pool.kwargs  # a dict (typed loosely upstream)
        kwargs: dict[str, Any] = dict(configured)
        kwargs.pop("row_factory", None)
        return psycopg.connect(**kwargs, autocommit=True, connect_timeout=5)

    # ---- errors -----------------------------------------------------------------------------

    @staticmethod
    def blames_the_data(error: BaseException) -> bool | None:
        if not isinstance(error, psycopg.Error):
            return None
        state = error.sqlstate
        if state is None:
            # Raised by the client: a lost connection or pool timeout (Operational, Interface),
            # or a value it cannot send (DataError: a NUL in text).
            return not isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
        return state[:2] not in ENVIRONMENT_CLASSES


class PostgresFactory(library.PostgresFactory):
    """The library's PostgreSQL factory, with ``PostgresDatabase`` as the application recorder
    and a pre-ping that costs no round trip."""

    application_recorder_class = PostgresDatabase

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        if self.datastore.pre_ping:
            # The library's pre-ping (psycopg_pool's check) sends a query on every checkout: a
            # round trip per read and per write, a third of a command's database time. A pooled
            # connection the server closed (restart, terminated backend) has the server's last
            # words or EOF waiting on its socket, so only such a connection is pinged (and then
            # discarded by the pool). psycopg_pool takes ``check`` only at construction.
            self.datastore.pool._check = ping_if_readable  # type: ignore[attr-defined]


def ping_if_readable(conn: psycopg.Connection[Any]) -> None:
    """Pings ``conn`` (raising if it is dead) only if its socket has something to read: an idle
    connection in good health has nothing, a closed one has EOF or the server's farewell."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)
