"""The SQL of our own tables (read models, webhook and relay state), written once for both stores.

Statements are written with ``%s`` placeholders (``%%`` for a literal percent sign) and table names
from ``Dialect.table``; a dialect turns them into what its database accepts (``Dialect.sql``: the
only placeholder rewriter). Read-model tables are declared portably (``projections/schema.py``) and
rendered here as DDL; values are converted at the boundary (``encode``/``decode``), and each
database writes rows in bulk its own way (``write_rows``). The two dialects live with their
databases (``infra/databases/sqlite.py``, ``infra/databases/postgres.py``); this base holds what
they share.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from projections.schema import LogicalType, Table, is_secondary_index


class Dialect(ABC):
    """How one database spells our statements, types and bulk writes."""

    kind: str
    """Names the dialect in ``Table.extra_ddl`` / ``extra_indexes`` ("sqlite", "postgres")."""
    row_lock: str = ""
    """Appended to a SELECT that must lock the rows it reads until the transaction ends (empty
    where the transaction's write lock already excludes other writers)."""
    like_ignoring_case: str
    """The operator matching a ``LIKE`` pattern without regard to (ASCII) case."""
    index_build_settings: tuple[str, ...] = ()
    """Statements run first in a transaction that builds indexes in bulk."""

    @abstractmethod
    def table(self, name: str) -> str:
        """The name of our table ``name`` as statements must write it (schema-qualified)."""

    def sql(self, statement: str) -> str:
        """``statement`` with its placeholders in the driver's style."""
        return statement

    @abstractmethod
    def column_type(self, logical: LogicalType) -> str: ...

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
        """``mode`` is "replace" (non-key columns take the new values), "add" (the int columns
        are summed, the others keep their stored values) or "insert" (new rows only: a key
        already stored is an error, as an append-only log wants)."""
        names = table.column_names
        if mode == "insert":
            return f"INSERT INTO {self.table(table.name)} ({', '.join(names)}) {{values}}"
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

    @abstractmethod
    def write_rows(
        self, cursor: Any, table: Table, rows: Sequence[Mapping[str, Any]], mode: str
    ) -> None:
        """Upserts ``rows`` (``mode`` as in ``upsert_statement``), made storable on the way."""

    @abstractmethod
    def select_by_keys(
        self, cursor: Any, table: Table, key: str, values: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """The rows whose ``key`` is one of ``values``, decoded."""

    @abstractmethod
    def pairs(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        """A row-value list usable as ``(a, b) IN (<sql>)``, with its parameters."""

    @abstractmethod
    def texts(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        """A list usable as ``a IN (<sql>)``, with its parameters."""


