"""Declarations of read-model tables: columns with portable logical types, keys and indexes.

Each projection module declares its tables with these, beside its handlers; a ``Dialect`` renders
them as SQLite or PostgreSQL DDL and converts values both ways, so that handlers and queries see the
same Python values (UUID, aware UTC datetime, date, bool, int, str) on either backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, cast, get_args

LogicalType = Literal["uuid", "text", "int", "bool", "timestamp", "date"]


@dataclass(frozen=True)
class Column:
    name: str
    type: LogicalType
    nullable: bool = False


def columns(*declarations: str) -> tuple[Column, ...]:
    """Columns from a short DDL-like text, in order: ``"id uuid, region text?, ..."`` (a
    trailing ``?`` makes a column nullable). A view's row reads like its table; a misspelt type
    fails when the module is imported."""
    declared = []
    items = [item for item in ",".join(declarations).split(",") if item.strip()]
    for item in items:
        name, logical = item.split()
        kind = logical.removesuffix("?")
        if kind not in get_args(LogicalType):
            raise ValueError(f"column {name!r}: unknown type {logical!r}")
        declared.append(Column(name, cast(LogicalType, kind), nullable=logical.endswith("?")))
    return tuple(declared)


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    where: str | None = None
    """Partial-index predicate, written in SQL both backends accept (e.g. ``is_open = TRUE``)."""
    used_by_writes: bool = False
    """The projection's own statements read through this index while writing (e.g. a minimum
    recomputed per batch), so a rebuild keeps it rather than building it at the end."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[Index, ...] = ()
    extra_ddl: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Backend-specific statements ("sqlite"/"postgres"); ``{table}`` is the qualified name.
    Those that are a plain ``CREATE INDEX`` count as secondary indexes: a rebuild creates them
    at its end, like ``indexes`` (see ``is_secondary_index``)."""
    extra_indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Backend-specific statements that build secondary indexes but are not a plain
    ``CREATE INDEX`` (e.g. a ``DO`` block that first checks an extension is installed); a rebuild
    creates them at its end."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @cached_property
    def types(self) -> dict[str, LogicalType]:
        """Made once per table (a list page decodes every column of every row through it)."""
        return {c.name: c.type for c in self.columns}


def is_secondary_index(statement: str) -> bool:
    """Whether a DDL statement creates a non-unique index: something a rebuild may postpone to
    its end (a unique index is a constraint, so it stays)."""
    return statement.lstrip().upper().startswith("CREATE INDEX")
