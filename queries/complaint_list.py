"""The complaint list: filters, text search and keyset pagination over the ``complaint_list`` view.

The cursor is the sort value and id of the last row served, so a page never repeats or skips rows
because others were inserted meanwhile (offsets would).

``q`` matches complaints whose subject or description contains every whitespace-separated term, as
a case-insensitive substring, on both databases. Not PostgreSQL full-text search: its parsers cut
words at spaces, so Chinese text (no spaces) would only match whole sentences ("破裂" would not find
"屏幕破裂"), and segmenting parsers (zhparser) are not packaged with PostgreSQL. A trigram index
(pg_trgm, where installed) serves the substring match on PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args
from uuid import UUID

from pydantic import BaseModel

from aggregates.plausible_time import is_plausible_instant
from commands.permissions import Reach
from projections.complaint_list import COMPLAINT_LIST, tags_of
from projections.store import ReadModelStore
from queries.errors import InvalidQueryError
from queries.reach import reach_condition

Sort = Literal["filed_at", "-filed_at", "updated_at", "-updated_at"]


class CustomerSummary(BaseModel):
    id: str
    name: str
    tier: str


class ProductSummary(BaseModel):
    name: str | None = None
    model: str | None = None


class ComplaintListItem(BaseModel):
    id: UUID
    reference: str
    status: str
    category: str
    severity: str
    channel: str
    region: str | None
    customer: CustomerSummary
    product: ProductSummary
    subject: str
    assignee: str | None
    team: str | None
    escalation_level: int
    received_at: datetime
    filed_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
    closed_at: datetime | None
    reopen_count: int
    tags: list[str]
    updated_at: datetime
    version: int
    position: int


class ComplaintPage(BaseModel):
    items: list[ComplaintListItem]
    next_cursor: str | None


@dataclass(frozen=True)
class ListFilters:
    """What ``GET /complaints`` narrows the list by; ``None`` leaves a filter out, and the
    filters given all apply (AND)."""

    status: str | None = None
    category: str | None = None
    severity: str | None = None
    channel: str | None = None
    region: str | None = None
    """Equal to the value (these five and the next four; see ``EQUALITY`` for the columns)."""
    assignee: str | None = None
    team: str | None = None
    customer_id: str | None = None
    tier: str | None = None
    """The customer's tier (column ``customer_tier``)."""
    escalated: bool | None = None
    """True: escalated to any level; False: never escalated."""
    filed_from: datetime | None = None
    filed_to: datetime | None = None
    """Filed in [filed_from, filed_to): the start included, the end not."""
    q: str | None = None
    """Words, each of which must occur in the subject or description (case ignored)."""
    tag: str | None = None
    """Tagged so (now)."""
    reach: Reach | None = None
    """Only what the caller may open (agents, supervisors); None: everything."""


EQUALITY = {
    "status": "status", "category": "category", "severity": "severity", "channel": "channel",
    "region": "region", "assignee": "assignee", "team": "team", "customer_id": "customer_id",
    "tier": "customer_tier",
}


def encode_cursor(sort: str, value: datetime, row_id: UUID) -> str:
    raw = json.dumps([sort, value.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[datetime, UUID]:
    """The sort value and id a cursor carries. A cursor is client input: anything but the exact
    shape ``encode_cursor`` makes, with an aware instant in the plausible range (others overflow
    when encoded for the query), is refused as foreign."""
    foreign = InvalidQueryError("cursor", "is not a cursor this endpoint issued")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):  # UnicodeDecodeError and JSONDecodeError included
        raise foreign from None
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and all(isinstance(part, str) for part in payload)
    ):
        raise foreign
    cursor_sort, value, row_id = payload
    try:
        instant, decoded_id = datetime.fromisoformat(value), UUID(row_id)
    except ValueError:
        raise foreign from None
    if instant.tzinfo is None or not is_plausible_instant(instant):
        raise foreign
    if cursor_sort not in get_args(Sort):
        raise foreign
    if cursor_sort != sort:
        raise InvalidQueryError("cursor", f"was issued for sort={cursor_sort}, not sort={sort}")
    return instant, decoded_id


def list_complaints(
    store: ReadModelStore,
    filters: ListFilters,
    *,
    sort: Sort = "-filed_at",
    limit: int = 50,
    cursor: str | None = None,
) -> ComplaintPage:
    dialect = store.dialect
    types = COMPLAINT_LIST.types
    where: list[str] = []
    params: list[Any] = []
    for name, column in EQUALITY.items():
        value = getattr(filters, name)
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if filters.reach is not None:
        condition, reach_params = reach_condition(filters.reach)
        where.append(condition)
        params += reach_params
    if filters.escalated is not None:
        where.append("escalation_level > 0" if filters.escalated else "escalation_level = 0")
    if filters.filed_from is not None:
        where.append("filed_at >= %s")
        params.append(dialect.encode("timestamp", filters.filed_from))
    if filters.filed_to is not None:
        where.append("filed_at < %s")
        params.append(dialect.encode("timestamp", filters.filed_to))
    if filters.q:
        like = dialect.like_ignoring_case
        for term in filters.q.split():
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(f"(subject || ' ' || description) {like} %s ESCAPE '\\'")
            params.append(f"%{escaped}%")
    if filters.tag is not None:
        escaped = filters.tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("tags LIKE %s ESCAPE '\\'")
        params.append(f"% {escaped} %")
    column = sort.lstrip("-")
    descending = sort.startswith("-")
    if cursor:
        value, row_id = decode_cursor(cursor, sort)
        where.append(f"({column}, id) {'<' if descending else '>'} (%s, %s)")
        params += [dialect.encode(types[column], value), dialect.encode("uuid", row_id)]
    direction = "DESC" if descending else "ASC"
    statement = (
        f"SELECT * FROM {dialect.table(COMPLAINT_LIST.name)}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {column} {direction}, id {direction} LIMIT %s"
    )
    params.append(limit + 1)
    with store.read(one_statement=True) as tx:
        rows = [dialect.decode_row(COMPLAINT_LIST, r) for r in tx.rows(statement, params)]
    more = len(rows) > limit
    rows = rows[:limit]
    items = [to_item(r) for r in rows]
    next_cursor = encode_cursor(sort, rows[-1][column], rows[-1]["id"]) if more and rows else None
    return ComplaintPage(items=items, next_cursor=next_cursor)


# Looked up once: ``model_fields`` is a property of the class, costly when read per row and column.
_ITEM_COLUMNS = frozenset(ComplaintListItem.model_fields)


def to_item(row: dict[str, Any]) -> ComplaintListItem:
    return ComplaintListItem(
        customer=CustomerSummary(
            id=row["customer_id"], name=row["customer_name"], tier=row["customer_tier"]
        ),
        product=ProductSummary(name=row["product_name"], model=row["product_model"]),
        **{k: v for k, v in row.items() if k in _ITEM_COLUMNS and k != "tags"},
        tags=tags_of(row["tags"]),
    )


def customer_ids(store: ReadModelStore, complaint_ids: Sequence[UUID]) -> dict[UUID, str]:
    """The customer of each listed complaint the view holds (the access log's lookup for event
    pages without the complaints' ``filed`` events)."""
    if not complaint_ids:
        return {}
    dialect = store.dialect
    placeholders = ", ".join(["%s"] * len(complaint_ids))
    with store.read() as tx:
        rows = tx.rows(
            f"SELECT id, customer_id FROM {dialect.table(COMPLAINT_LIST.name)}"
            f" WHERE id IN ({placeholders})",
            [dialect.encode("uuid", c) for c in complaint_ids],
        )
    return {dialect.decode("uuid", r["id"]): r["customer_id"] for r in rows}
