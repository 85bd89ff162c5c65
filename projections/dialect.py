"""What differs between SQLite and PostgreSQL for the read models: types, names, bulk writes.

SQL in projections and queries is written once with ``%s`` placeholders and table names from
``Dialect.table``; the SQLite dialect rewrites ``%s`` to ``?``. Values are converted at the
boundary: SQLite stores UUIDs as canonical text, datetimes as fixed-width UTC ISO-8601 text (so
they sort as text sorts) and dates as ``YYYY-MM-DD``; PostgreSQL uses native types. On both, every
timestamp and text value going in is made storable first (``projections/storable.py``: instants
clamped, NUL stripped), so an event from an older, laxer intake cannot stop a view.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

import psycopg

from projections.schema import LogicalType, Table, is_secondary_index
from projections.storable import (
    EARLIEST,
    LATEST,
    storable_instant,
    storable_rows,
    storable_text,
    storable_texts,
)

SQLITE_MAX_PARAMS = 900
STAGE_MIN_ROWS = 200
"""From this many rows, PostgreSQL writes go through COPY into a staging table (see
``PostgresDialect.write_rows``); below it, one ``unnest`` statement is the cheaper round trip."""


class Dialect:
    kind: str = ""

    def table(self, name: str) -> str:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        return statement

    def column_type(self, logical: LogicalType) -> str:
        raise NotImplementedError

    def encode(self, logical: LogicalType, value: Any) -> Any:
        return value

    def decode(self, logical: LogicalType, value: Any) -> Any:
        return value

    def create_statements(self, table: Table, *, secondary: bool = True) -> list[str]:
        """The table's DDL, idempotent (``IF NOT EXISTS``). ``secondary=False`` leaves out the
        secondary indexes a rebuild builds at its end (``index_statements``) and keeps the rest
        (primary key, indexes the handlers read through, other extra DDL)."""
        columns = ", ".join(
            f"{c.name} {self.column_type(c.type)}{'' if c.nullable else ' NOT NULL'}"
            for c in table.columns
        )
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.table(table.name)} "
            f"({columns}, PRIMARY KEY ({', '.join(table.key)}))"
        ]
        statements += self._index_statements(table, postponable=False)
        if secondary:
            statements += self._index_statements(table, postponable=True)
        return statements

    def index_statements(self, table: Table) -> list[str]:
        """The secondary indexes a rebuild postpones, idempotent."""
        return self._index_statements(table, postponable=True)

    def _index_statements(self, table: Table, *, postponable: bool) -> list[str]:
        qualified = self.table(table.name)
        statements = []
        for index in table.indexes:
            if index.used_by_writes == postponable:
                continue
            where = f" WHERE {index.where}" if index.where else ""
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index.name} ON {qualified} "
                f"({', '.join(index.columns)}){where}"
            )
        for statement in table.extra_ddl.get(self.kind, ()):
            if is_secondary_index(statement) == postponable:
                statements.append(statement.format(table=qualified))
        if postponable:
            extra = table.extra_indexes.get(self.kind, ())
            statements += [statement.format(table=qualified) for statement in extra]
        return statements

    def analyze_statement(self, table: Table) -> str | None:
        """Refreshes the planner's statistics after a bulk load (None: not needed)."""
        return None

    def drop_statement(self, table: Table) -> str:
        return f"DROP TABLE IF EXISTS {self.table(table.name)}"

    def decode_row(self, table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
        types = table.types
        return {
            k: self.decode(types[k], v) if k in types else v for k, v in dict(row).items()
        }

    def upsert_statement(self, table: Table, mode: str) -> str:
        """``mode`` is "replace" (non-key columns take the new values) or "add" (the int columns
        are summed, the others keep their stored values)."""
        names = table.column_names
        updates = [c for c in table.columns if c.name not in table.key]
        if mode == "replace":
            sets = ", ".join(f"{c.name} = excluded.{c.name}" for c in updates)
        else:
            sets = ", ".join(
                f"{c.name} = {self.table(table.name)}.{c.name} + excluded.{c.name}"
                for c in updates
                if c.type == "int"
            )
        return (
            f"INSERT INTO {self.table(table.name)} ({', '.join(names)}) {{values}} "
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {sets}"
        )

    def write_rows(
        self, cursor: Any, table: Table, rows: Sequence[Mapping[str, Any]], mode: str
    ) -> None:
        raise NotImplementedError

    def select_by_keys(
        self, cursor: Any, table: Table, key: str, values: Iterable[Any]
    ) -> list[dict[str, Any]]:
        raise NotImplementedError

    def pairs(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        """A row-value list usable as ``(a, b) IN (<sql>)``, with its parameters."""
        raise NotImplementedError

    def texts(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        """A list usable as ``a IN (<sql>)``, with its parameters."""
        raise NotImplementedError


class SQLiteDialect(Dialect):
    kind = "sqlite"
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
        return statement.replace("%s", "?")

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
        for i in range(0, len(encoded), SQLITE_MAX_PARAMS):
            chunk = encoded[i : i + SQLITE_MAX_PARAMS]
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


class PostgresDialect(Dialect):
    kind = "postgres"
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

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'

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
        if len(rows) < STAGE_MIN_ROWS:
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
        cursor.execute(statement, [[r[n] for r in rows] for n in names])

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
        cast = self._types[table.types[key]]
        cursor.execute(
            f"SELECT * FROM {self.table(table.name)} WHERE {key} = ANY(%s::{cast}[])", (keys,)
        )
        return list(cursor.fetchall())  # the store's cursors make dict rows

    def pairs(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        return (
            "SELECT * FROM unnest(%s::text[], %s::text[])",
            [[storable_text(a) for a, _ in pairs], [storable_text(b) for _, b in pairs]],
        )

    def texts(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        return "SELECT unnest(%s::text[])", [[storable_text(v) for v in values]]


def without_nul(table: Table, rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    return storable_rows(rows, [c.name for c in table.columns if c.type == "text"], ())


def encode_timestamp(value: datetime) -> str:
    """Fixed-width UTC text, so that SQLite's text ordering is time ordering; clamped into the
    storable range first (see ``projections/storable.py``)."""
    if value.tzinfo is None or not EARLIEST <= value <= LATEST:
        value = storable_instant(value)
    return value.astimezone(UTC).isoformat(timespec="microseconds")
