"""SQLite: the event store's recorder, with everything the service needs of a SQLite database.

A file (or in-memory) database with one writer at a time, no notifications and no locks between
processes beyond the file's own. So: our tables' values as text (``SQLiteDialect``), transactions
that take the write lock before they read, an exclusive ``flock`` per lock name on a file beside
the database, polling for new events and positions, and the result codes that say "environment".
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import IO, Any
from uuid import NAMESPACE_OID, UUID, uuid5

from eventsourcing import sqlite as library
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTrackingRecorder,
)

from aggregates.audit_chain import GENESIS, ChainHead, event_hash
from projections.coordination import Coordinator
from projections.database import ChainRow, Database, StoredRow
from projections.dialect import Dialect
from projections.schema import LogicalType, Table
from projections.storable import (
    EARLIEST,
    LATEST,
    storable_instant,
    storable_text,
    storable_texts,
)

MAX_PARAMS = 900
BACKFILL_PAGE = 20_000
"""Rows read per statement while migrating a store to the hash chain."""
"""Parameters per statement, below SQLite's limit (999 in older builds)."""

# SQLite primary result codes that no data value can cause: ERROR (no such table, syntax), PERM,
# ABORT, BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL,
# SCHEMA, NOTADB. Data can cause TOOBIG, CONSTRAINT, MISMATCH and RANGE, which are not here.
ENVIRONMENT_CODES = frozenset({1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 17, 26})

_PLACEHOLDERS = re.compile("%[s%]")


def _sqlite_placeholder(match: re.Match[str]) -> str:
    return "?" if match.group() == "%s" else "%"


class SQLiteDialect(Dialect):
    """UUIDs as canonical text, datetimes as fixed-width UTC ISO-8601 text (so that they sort as
    text sorts), dates as ``YYYY-MM-DD``, booleans as 0/1; text and instants made storable on
    the way in (``projections/storable.py``)."""

    kind = "sqlite"
    like_ignoring_case = "LIKE"  # SQLite's LIKE ignores ASCII case
    _types: dict[str, str] = {
        "uuid": "TEXT",
        "text": "TEXT",
        "int": "INTEGER",
        "bool": "INTEGER",
        "timestamp": "TEXT",
        "date": "TEXT",
    }

    def table(self, name: str) -> str:
        return name

    def sql(self, statement: str) -> str:
        # Statements are written for psycopg: ``%s`` a parameter, ``%%`` a percent sign.
        if "%%" not in statement:
            return statement.replace("%s", "?")
        return _PLACEHOLDERS.sub(_sqlite_placeholder, statement)

    def column_type(self, logical: LogicalType) -> str:
        return self._types[logical]

    def encode(self, logical: LogicalType, value: Any) -> Any:
        if value is None:
            return None
        if logical == "text":
            return storable_text(value) if isinstance(value, str) else value
        if logical == "uuid":
            return str(value)
        if logical == "timestamp":
            return encode_timestamp(storable_instant(value))
        if logical == "date":
            return value.isoformat()
        if logical == "bool":
            return int(value)
        return value

    def decode(self, logical: LogicalType, value: Any) -> Any:
        if value is None:
            return None
        if logical == "uuid":
            return UUID(value)
        if logical == "timestamp":
            return datetime.fromisoformat(value)
        if logical == "date":
            return date.fromisoformat(value)
        if logical == "bool":
            return bool(value)
        return value

    def upsert_statement(self, table: Table, mode: str) -> str:
        # SQLite resolves an unqualified column in DO UPDATE to the existing row.
        statement = super().upsert_statement(table, mode).replace(f"{table.name}.", "")
        marks = ", ".join("?" for _ in table.columns)
        return statement.replace("{values}", f"VALUES ({marks})")

    def write_rows(
        self, cursor: Any, table: Table, rows: Sequence[Mapping[str, Any]], mode: str
    ) -> None:
        if not rows:
            return
        # Column by column: one list comprehension per column rather than a call per value.
        columns = [self.encode_column(c.type, [r[c.name] for r in rows]) for c in table.columns]
        cursor.executemany(self.upsert_statement(table, mode), list(zip(*columns, strict=True)))

    def encode_column(self, logical: LogicalType, values: Sequence[Any]) -> Sequence[Any]:
        """``encode`` over a column: the same values, made storable at C speed where possible."""
        if logical == "text":
            return storable_texts(values)
        if logical == "int":
            return values
        if logical == "uuid":
            return [None if v is None else str(v) for v in values]
        if logical == "timestamp":
            return [None if v is None else encode_timestamp(v) for v in values]
        if logical == "date":
            return [None if v is None else v.isoformat() for v in values]
        return [None if v is None else int(v) for v in values]  # bool

    def select_by_keys(
        self, cursor: Any, table: Table, key: str, values: Iterable[Any]
    ) -> list[dict[str, Any]]:
        encoded = [self.encode(table.types[key], v) for v in values]
        found: list[dict[str, Any]] = []
        for i in range(0, len(encoded), MAX_PARAMS):
            chunk = encoded[i : i + MAX_PARAMS]
            cursor.execute(
                f"SELECT * FROM {table.name} WHERE {key} IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            found += [self.decode_row(table, r) for r in cursor.fetchall()]
        return found

    def pairs(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        return (
            "VALUES " + ", ".join("(%s, %s)" for _ in pairs),
            [storable_text(v) for pair in pairs for v in pair],
        )

    def texts(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        return "VALUES " + ", ".join("(%s)" for _ in values), [storable_text(v) for v in values]


def encode_timestamp(value: datetime) -> str:
    """Fixed-width UTC text, so that SQLite's text ordering is time ordering; clamped into the
    storable range first (see ``projections/storable.py``)."""
    if value.tzinfo is None or not EARLIEST <= value <= LATEST:
        value = storable_instant(value)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class FileLocks(Coordinator):
    """Locks as an exclusive ``flock`` on a file beside the database per name: they exclude other
    workers on the machine (the only one a SQLite file can serve) and are released however the
    process ends. Waits poll: SQLite announces nothing."""

    def __init__(self, poll_seconds: float, lock_path_prefix: str | None) -> None:
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

    def wait(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(min(timeout, self.poll_seconds))

    def close(self) -> None:
        for file in self.files.values():
            file.close()  # releases the flock
        self.files.clear()


class SQLiteDatabase(Database, SQLiteApplicationRecorder):
    """The library's SQLite application recorder, plus ``Database``; it chains every event it
    writes in Python, inside the write transaction (SQLite has no SHA-256 of its own)."""

    positions_are_dense = True  # rowid = max + 1; a rollback takes none

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.insert_events_statement = (
            f"INSERT INTO {events_table_name} (originator_id, originator_version, topic, state,"
            " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)"
        )
        self._select_hash = (
            f"SELECT hash FROM {events_table_name} WHERE originator_id = ?"
            " AND originator_version = ?"
        )
        self.dialect = SQLiteDialect()
        self.tracking_table = "tracking"  # the library fixes its name on SQLite
        self.tracking = SQLiteTrackingRecorder(datastore)
        self._select_positions = (
            f"SELECT originator_version, rowid FROM {events_table_name} WHERE originator_id = ?"
        )
        self._select_after_version = (
            f"SELECT rowid, * FROM {events_table_name} WHERE originator_id = ?"
            " AND originator_version > ? ORDER BY originator_version"
        )
        # A write that changes nothing: SQLite takes its write lock (waiting up to the lock
        # timeout for it) at the first write statement of a transaction.
        self._take_write_lock = f"UPDATE {events_table_name} SET rowid = rowid WHERE 0"

    def construct_create_table_statements(self) -> list[str]:
        return [
            statement.replace("state BLOB, ", "state BLOB, prev_hash BLOB, hash BLOB, ")
            for statement in super().construct_create_table_statements()
        ]

    def create_table(self) -> None:
        super().create_table()
        self._migrate_to_chain()

    def _migrate_to_chain(self) -> None:
        """Adds the chain's columns to a store from before them and hashes its events, in one
        transaction (so a store has either no chain columns or every event chained)."""
        with self.transaction(commit=True) as cursor:
            cursor.execute("SELECT name FROM pragma_table_info(?)", (self.events_table_name,))
            columns = {row[0] for row in cursor.fetchall()}
            if "hash" in columns:
                return
            table = self.events_table_name
            for column in ("prev_hash", "hash"):
                if column not in columns:
                    cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column} BLOB")
            last: tuple[str, int, bytes] = ("", 0, GENESIS)
            while True:
                cursor.execute(
                    f"SELECT rowid, originator_id, originator_version, topic, state FROM {table}"
                    " WHERE (originator_id, originator_version) > (?, ?)"
                    " ORDER BY originator_id, originator_version LIMIT ?",
                    (last[0], last[1], BACKFILL_PAGE),
                )
                rows = cursor.fetchall()
                if not rows:
                    return
                updates = []
                for rowid, key, version, topic, state in rows:
                    prev = last[2] if key == last[0] and version == last[1] + 1 else GENESIS
                    digest = event_hash(prev, UUID(key), version, topic, state)
                    updates.append((prev, digest, rowid))
                    last = (key, version, digest)
                cursor.executemany(
                    f"UPDATE {table} SET prev_hash = ?, hash = ? WHERE rowid = ?", updates
                )

    def _chained(
        self, cursor: Any, events: Iterable[StoredEvent]
    ) -> Iterator[tuple[StoredEvent, UUID, bytes, bytes]]:
        """Each event with its originator id, its predecessor's hash and its own: the
        predecessor from earlier in ``events`` if it is there, else as stored."""
        heads: dict[UUID, tuple[int, bytes]] = {}
        for e in events:
            originator_id = _uuid(e.originator_id)
            head = heads.get(originator_id)
            if head is not None and head[0] == e.originator_version - 1:
                prev = head[1]
            else:
                prev = self._stored_hash(cursor, originator_id, e.originator_version - 1)
            digest = event_hash(prev, originator_id, e.originator_version, e.topic, e.state)
            heads[originator_id] = (e.originator_version, digest)
            yield e, originator_id, prev, digest

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The library began a deferred transaction: take the write lock before reading the
        # predecessors' hashes, so no other writer commits between that read and this insert.
        c.execute(self._take_write_lock)
        returning = []
        for s, originator_id, prev, digest in self._chained(c, stored_events):
            c.execute(
                self.insert_events_statement,
                (originator_id.hex, s.originator_version, s.topic, s.state, prev, digest),
            )
            returning.append(c.lastrowid)
        return returning

    def _stored_hash(self, c: Any, originator_id: UUID, version: int) -> bytes:
        """The stored hash of the aggregate's event ``version``; the genesis hash for version 0
        (and for a predecessor that is missing: the verifier reports that gap)."""
        if version < 1:
            return GENESIS
        c.execute(self._select_hash, (originator_id.hex, version))
        row = c.fetchone()
        return bytes(row[0]) if row and row[0] is not None else GENESIS

    # ---- the hash chain ---------------------------------------------------------------------

    def chain_rows(self, after: int, limit: int) -> Sequence[ChainRow]:
        with self.datastore.transaction(commit=False) as wrapper:
            cursor = wrapper.sqlite_cursor
            cursor.execute(
                "SELECT rowid, originator_id, originator_version, topic, state, prev_hash, hash"
                f" FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, limit),
            )
            return [
                ChainRow(r[0], _stored_uuid(r[1]), r[2], r[3], r[4], r[5], r[6])
                for r in cursor.fetchall()
            ]

    def chain_of(self, originator_id: UUID) -> Sequence[ChainRow]:
        with self.datastore.transaction(commit=False) as wrapper:
            cursor = wrapper.sqlite_cursor
            cursor.execute(
                "SELECT rowid, originator_id, originator_version, topic, state, prev_hash, hash"
                f" FROM {self.events_table_name} WHERE originator_id = ?"
                " ORDER BY originator_version",
                (originator_id.hex,),
            )
            return [
                ChainRow(r[0], originator_id, r[2], r[3], r[4], r[5], r[6])
                for r in cursor.fetchall()
            ]

    def chain_heads(self, up_to: int | None = None) -> tuple[int, list[ChainHead]]:
        with self.datastore.transaction(commit=False) as wrapper:
            cursor = wrapper.sqlite_cursor  # one read transaction: one snapshot
            if up_to is None:
                cursor.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
                up_to = cursor.fetchone()[0] or 0
            # SQLite gives a bare column the values of the row that has the MAX.
            cursor.execute(
                "SELECT originator_id, MAX(originator_version), hash"
                f" FROM {self.events_table_name} WHERE rowid <= ? GROUP BY originator_id",
                (up_to,),
            )
            heads = [
                ChainHead(UUID(r[0]), r[1], bytes(r[2]) if r[2] is not None else GENESIS)
                for r in cursor.fetchall()
            ]
        return up_to, heads

    # ---- the notification log ---------------------------------------------------------------

    def event_positions(self, originator_id: UUID) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._select_positions, (originator_id.hex,))
            return {row[0]: row[1] for row in cursor.fetchall()}

    def events_after(self, originator_id: UUID, version: int) -> Sequence[Notification]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._select_after_version, (originator_id.hex, version))
            rows = cursor.fetchall()
        return [
            Notification(
                id=row["rowid"],
                originator_id=originator_id,
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in rows
        ]

    def first_events(self, originator_ids: Sequence[UUID], up_to: int) -> Sequence[StoredEvent]:
        rows = []
        with self.datastore.transaction(commit=False) as cursor:
            # In chunks: SQLite bounds a statement's parameters.
            for start in range(0, len(originator_ids), MAX_PARAMS - 1):
                chunk = [i.hex for i in originator_ids[start : start + MAX_PARAMS - 1]]
                cursor.execute(
                    "SELECT originator_id, originator_version, topic, state FROM "
                    f"{self.events_table_name} WHERE originator_id IN "
                    f"({', '.join('?' * len(chunk))}) AND originator_version <= ?",
                    (*chunk, up_to),
                )
                rows += cursor.fetchall()
        return [
            StoredEvent(
                originator_id=UUID(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in rows
        ]

    def notifications_of(
        self, originator_id: UUID, *, after: int, stop: int, limit: int, topics: Sequence[str]
    ) -> Sequence[Notification]:
        # The primary key starts with the originator id: an index range scan.
        marks = ",".join("?" * len(topics))
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT rowid, * FROM {self.events_table_name} WHERE originator_id = ? "
                f"AND rowid > ? AND rowid <= ? AND topic IN ({marks}) ORDER BY rowid LIMIT ?",
                (originator_id.hex, after, stop, *topics, limit),
            )
            rows = cursor.fetchall()
        return [
            Notification(
                id=row["rowid"],
                originator_id=self.convert_originator_id(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in rows
        ]

    def notifications_between(
        self, first: int, last: int, topics: Sequence[str]
    ) -> Sequence[Notification | StoredRow]:
        return self.select_notifications(first, limit=last - first + 1, stop=last, topics=topics)

    def append_in_bulk(self, events: Iterable[StoredEvent]) -> int:
        # The library's own insert statement, executed over the stream in one transaction (it
        # executes one statement per event to return their rowids, which are the positions).
        # Chained as ``_insert_events`` chains, the heads of the stream kept in memory.
        written = 0

        def rows(cursor: Any) -> Iterator[tuple[Any, int, str, bytes, bytes, bytes]]:
            nonlocal written
            for e, originator_id, prev, digest in self._chained(cursor, events):
                written += 1
                yield originator_id.hex, e.originator_version, e.topic, e.state, prev, digest

        with self.transaction(commit=True) as cursor:
            lookups = cursor.connection.cursor()
            cursor.executemany(self.insert_events_statement, rows(lookups))
        return written

    # ---- our own tables ---------------------------------------------------------------------

    @contextmanager
    def transaction(
        self, *, commit: bool, durable: bool = True, pipelined: bool = False
    ) -> Iterator[Any]:
        # ``durable`` has no per-transaction switch here (``synchronous`` is the connection's);
        # ``pipelined`` means nothing in process (no round trips).
        with self.datastore.transaction(commit=commit) as wrapper:
            cursor = wrapper.sqlite_cursor  # the library's wrapper lacks ``rowcount``
            if commit:
                # The library begins a deferred transaction; one that reads and then writes while
                # another connection (the projection runner's, the webhook worker's: each has its
                # own pool) has committed meanwhile fails at once with "database is locked",
                # without waiting for the lock. So take the lock before any read.
                try:
                    cursor.execute(self._take_write_lock)
                except sqlite3.OperationalError as e:
                    if "no such table" not in str(e):  # a store whose tables are being created
                        raise
            yield cursor

    @contextmanager
    def reading(self) -> Iterator[Any]:
        # In process, a transaction costs no round trip: the same as ``transaction``.
        with self.transaction(commit=False) as cursor:
            yield cursor

    def index_names(self, table: Table) -> set[str]:
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                (table.name,),
            )
            return {row["name"] for row in cursor.fetchall()}

    def column_names(self, table: Table) -> list[str]:
        with self.transaction(commit=False) as cursor:
            cursor.execute("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table.name,))
            return [row["name"] for row in cursor.fetchall()]

    def clamp_stored_instants(self, tables: Sequence[Table]) -> None:
        """Nothing to do: SQLite never stored such instants (the encoder failed instead)."""

    # ---- coordination and news --------------------------------------------------------------

    @property
    def identity(self) -> str:
        name = self.datastore.pool.db_name
        if self.datastore.pool.is_sqlite_memory_mode:
            return f"sqlite-memory:{name}:{id(self.datastore)}"
        return f"sqlite:{os.path.realpath(name)}"

    def coordinator(self, poll_seconds: float) -> Coordinator:
        pool = self.datastore.pool
        return FileLocks(poll_seconds, None if pool.is_sqlite_memory_mode else pool.db_name)

    def watch_events(self, stop: threading.Event, poll_seconds: float) -> Iterator[None]:
        last = self.max_notification_id() or 0
        while not stop.wait(poll_seconds):
            current = self.max_notification_id() or 0
            if current != last:
                last = current
                yield

    def announce_positions(self, cursor: Any, positions: Mapping[str, int]) -> None:
        """Nothing: SQLite has no notifications; readers in other processes poll."""

    def watch_positions(
        self, done: Callable[[], bool], *, poll_seconds: float, recheck_seconds: float
    ) -> Iterator[Mapping[str, int] | None]:
        while not done():
            yield None
            time.sleep(poll_seconds)

    # ---- errors -----------------------------------------------------------------------------

    @staticmethod
    def blames_the_data(error: BaseException) -> bool | None:
        if not isinstance(error, sqlite3.Error):
            return None
        code = getattr(error, "sqlite_errorcode", None)
        if code is None:
            # No result code: raised by the module itself, e.g. a value it cannot bind
            # (InterfaceError, ProgrammingError), unless it is about the connection.
            return not isinstance(error, sqlite3.OperationalError)
        return code & 0xFF not in ENVIRONMENT_CODES


def _stored_uuid(key: Any) -> UUID:
    """The originator id of a row as the verifier needs it, even if someone stored text that is
    no UUID there (SQLite does not refuse it): a name-based UUID of that text, whose events then
    fail their hash checks, rather than a verifier that stops."""
    try:
        return UUID(key)
    except (TypeError, ValueError, AttributeError):
        return uuid5(NAMESPACE_OID, repr(key))


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


class SQLiteFactory(library.SQLiteFactory):
    """The library's SQLite factory, with ``SQLiteDatabase`` as the application recorder."""

    application_recorder_class = SQLiteDatabase
