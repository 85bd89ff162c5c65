"""What differs between SQLite and PostgreSQL for the read models: types, names, bulk writes.

SQL in projections and queries is written once with ``%s`` placeholders and table names from
``Dialect.table``; the SQLite dialect rewrites ``%s`` to ``?``. Values are converted at the
boundary: SQLite stores UUIDs as canonical text, datetimes as fixed-width UTC ISO-8601 text (so
they sort as text sorts) and dates as ``YYYY-MM-DD``; PostgreSQL uses native types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from projections.schema import LogicalType, Table

SQLITE_MAX_PARAMS = 900


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

    def create_statements(self, table: Table) -> list[str]:
        columns = ", ".join(
            f"{c.name} {self.column_type(c.type)}{'' if c.nullable else ' NOT NULL'}"
            for c in table.columns
        )
        qualified = self.table(table.name)
        statements = [
            f"CREATE TABLE IF NOT EXISTS {qualified} "
            f"({columns}, PRIMARY KEY ({', '.join(table.key)}))"
        ]
        for index in table.indexes:
            where = f" WHERE {index.where}" if index.where else ""
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index.name} ON {qualified} "
                f"({', '.join(index.columns)}){where}"
            )
        statements += [s.format(table=qualified) for s in table.extra_ddl.get(self.kind, ())]
        return statements

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
        if logical == "uuid":
            return str(value)
        if logical == "timestamp":
            return encode_timestamp(value)
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
        types = table.types
        params = [tuple(self.encode(types[n], r[n]) for n in table.column_names) for r in rows]
        cursor.executemany(self.upsert_statement(table, mode), params)

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
            [v for pair in pairs for v in pair],
        )

    def texts(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        return "VALUES " + ", ".join("(%s)" for _ in values), list(values)


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

    def __init__(self, schema: str) -> None:
        self.schema = schema

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'

    def column_type(self, logical: LogicalType) -> str:
        return self._types[logical]

    def write_rows(
        self, cursor: Any, table: Table, rows: Sequence[Mapping[str, Any]], mode: str
    ) -> None:
        # One statement per batch over column arrays (unnest) instead of executemany: a single
        # round trip and a single plan, several times faster for thousands of rows.
        if not rows:
            return
        arrays = ", ".join(f"%s::{self._types[c.type]}[]" for c in table.columns)
        statement = self.upsert_statement(table, mode).replace(
            "{values}", f"SELECT * FROM unnest({arrays})"
        )
        cursor.execute(statement, [[r[n] for r in rows] for n in table.column_names])

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
        return [dict(r) for r in cursor.fetchall()]

    def pairs(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        return (
            "SELECT * FROM unnest(%s::text[], %s::text[])",
            [[a for a, _ in pairs], [b for _, b in pairs]],
        )

    def texts(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        return "SELECT unnest(%s::text[])", [list(values)]


def encode_timestamp(value: datetime) -> str:
    """Fixed-width UTC text, so that SQLite's text ordering is time ordering."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")
