"""The complaint list as a file: CSV or Parquet, one row per complaint (issue 13).

The rows are those of ``GET /complaints`` with the same filters, read page by page with its
keyset cursor (``list_complaints``), so memory stays flat however many complaints match; nested
fields are flattened (``customer.name`` is ``customer_name``), tags are joined by commas. Whoever
serves the file masks each page first where the reader may not see personal fields (the route);
the command line exports in clear, as the event export does.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from projections.store import ReadModelStore
from queries.complaint_list import ComplaintListItem, ComplaintPage, ListFilters, Sort
from queries.complaint_list import list_complaints as list_page

PAGE_SIZE = 1000
FORMATS = ("csv", "parquet")

_TEXT, _INT, _TIME = pa.string(), pa.int64(), pa.timestamp("us", tz="UTC")
COLUMNS: tuple[tuple[str, pa.DataType, Callable[[ComplaintListItem], Any]], ...] = (
    ("id", _TEXT, lambda i: str(i.id)),
    ("reference", _TEXT, lambda i: i.reference),
    ("status", _TEXT, lambda i: i.status),
    ("category", _TEXT, lambda i: i.category),
    ("severity", _TEXT, lambda i: i.severity),
    ("channel", _TEXT, lambda i: i.channel),
    ("region", _TEXT, lambda i: i.region),
    ("customer_id", _TEXT, lambda i: i.customer.id),
    ("customer_name", _TEXT, lambda i: i.customer.name),
    ("customer_tier", _TEXT, lambda i: i.customer.tier),
    ("product_name", _TEXT, lambda i: i.product.name),
    ("product_model", _TEXT, lambda i: i.product.model),
    ("subject", _TEXT, lambda i: i.subject),
    ("assignee", _TEXT, lambda i: i.assignee),
    ("team", _TEXT, lambda i: i.team),
    ("escalation_level", _INT, lambda i: i.escalation_level),
    ("received_at", _TIME, lambda i: i.received_at),
    ("filed_at", _TIME, lambda i: i.filed_at),
    ("assigned_at", _TIME, lambda i: i.assigned_at),
    ("first_response_at", _TIME, lambda i: i.first_response_at),
    ("closed_at", _TIME, lambda i: i.closed_at),
    ("reopen_count", _INT, lambda i: i.reopen_count),
    ("tags", _TEXT, lambda i: ",".join(i.tags)),
    ("updated_at", _TIME, lambda i: i.updated_at),
    ("version", _INT, lambda i: i.version),
    ("position", _INT, lambda i: i.position),
)
"""Column name, Parquet type and how it is read from a list item, in file order."""
NAMES = tuple(name for name, _, _ in COLUMNS)
NULLABLE = frozenset(
    {"region", "product_name", "product_model", "assignee", "team", "assigned_at",
     "first_response_at", "closed_at"}
)
PARQUET_SCHEMA = pa.schema(
    [pa.field(name, kind, nullable=name in NULLABLE) for name, kind, _ in COLUMNS]
)


def pages(
    store: ReadModelStore, filters: ListFilters, *, sort: Sort = "-filed_at",
    page_size: int = PAGE_SIZE,
) -> Iterator[ComplaintPage]:
    """The matching list rows, a page at a time, in ``sort`` order (the list's cursor)."""
    cursor: str | None = None
    while True:
        page = list_page(store, filters, sort=sort, limit=page_size, cursor=cursor)
        if page.items:
            yield page
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP "CSV injection")."""


def csv_cell(value: Any) -> str:
    """The cell's text. Text that a spreadsheet would run as a formula (a customer can write a
    subject ``=HYPERLINK(...)``) gets a leading apostrophe, which spreadsheets show as text;
    numbers and times are written as they are."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return str(value)


def write_csv(
    complaints: Iterator[ComplaintPage], out: IO[str], *, header: bool = True
) -> int:
    """A header line, then one line per complaint (``csv`` module's quoting; empty for null)."""
    writer = csv.writer(out)
    if header:
        writer.writerow(NAMES)
    count = 0
    for page in complaints:
        writer.writerows([csv_cell(read(i)) for _, _, read in COLUMNS] for i in page.items)
        count += len(page.items)
    return count


def write_parquet(complaints: Iterator[ComplaintPage], out: Path | IO[bytes]) -> int:
    """One row group per page, built column by column; no complaints: a valid empty file."""
    count = 0
    with pq.ParquetWriter(out, PARQUET_SCHEMA) as writer:
        for page in complaints:
            items = page.items
            writer.write_table(pa.table(
                {name: [read(i) for i in items] for name, _, read in COLUMNS},
                schema=PARQUET_SCHEMA,
            ))
            count += len(items)
        if count == 0:
            writer.write_table(PARQUET_SCHEMA.empty_table())
    return count
