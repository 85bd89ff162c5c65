"""The access log: who was shown which personal fields of which complaint, when, and why.

Append-only: entries are inserted, never updated or deleted (no statement here does either, and no
route offers it). One table beside the event store (same database and schema, so a backup carries
it along), declared portably and rendered by the database's dialect (``projections/schema.py``).
Not in the event store: an entry is a record of a read, not a fact about a complaint, and reads
outnumber commands.

Each answer that showed personal data has its entries committed before the answer leaves; so a
read whose entries cannot be written is refused (503) rather than served unlogged. Entries of
concurrent answers are written together (``AccessLog.submit``): one transaction per batch, not per
answer, because a transaction per read cost more CPU than the read itself (about 1 ms on SQLite,
bench/request_cpu.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from aggregates.plausible_time import is_plausible_instant
from projections.schema import Index, Table, columns
from projections.store import ReadModelStore
from queries.errors import InvalidQueryError

ACCESS_LOG = Table(
    "access_log",
    columns(
        "id uuid, at timestamp, principal text, role text, token_id uuid, complaint_id uuid,",
        "customer_id text?, fields text, route text, request_id text, purpose text?",
    ),
    key=("id",),
    indexes=(
        Index("access_log_by_time", ("at", "id")),
        Index("access_log_by_customer", ("customer_id", "at", "id")),
        Index("access_log_by_complaint", ("complaint_id", "at", "id")),
        Index("access_log_by_principal", ("principal", "at", "id")),
    ),
)


@dataclass(frozen=True)
class Disclosure:
    """One complaint's personal fields shown to one principal by one answer."""

    complaint_id: UUID
    customer_id: str | None
    fields: frozenset[str]


@dataclass(frozen=True)
class ReadRequest:
    """Who asked, through which route, and why (``X-Purpose``)."""

    principal: str
    role: str
    token_id: UUID
    route: str
    request_id: str
    purpose: str | None


class AccessLogEntry(BaseModel):
    id: UUID
    at: datetime
    principal: str
    role: str
    token_id: UUID
    complaint_id: UUID
    customer_id: str | None
    fields: list[str] = Field(
        description="The personal fields shown in clear (names as in the event schema: "
        "customer.name, customer.phone, customer.email, location, description, body)"
    )
    route: str = Field(description='Method and route template, e.g. "GET /complaints/{id}"')
    request_id: str = Field(description="X-Request-ID as sent, or one made for the request")
    purpose: str | None = Field(description="The X-Purpose header as sent")


class AccessLogPage(BaseModel):
    items: list[AccessLogEntry] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for older entries")


@dataclass(frozen=True)
class AccessLogFilters:
    customer_id: str | None = None
    complaint_id: UUID | None = None
    principal: str | None = None
    from_: datetime | None = None
    """Entries at or after this instant."""
    to: datetime | None = None
    """Entries before this instant."""


_Pending = tuple["ReadRequest", Sequence["Disclosure"], datetime, Future[None]]


class AccessLog:
    LINGER_SECONDS = 1.0
    """How long the writer thread waits for more entries before it ends."""

    def __init__(self, store: ReadModelStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: deque[_Pending] = deque()
        self._writing = False

    def create_table(self) -> None:
        """Done once by the composition root (``infra/bootstrap.py``) when a process starts."""
        with self._store.write() as tx:
            for statement in tx.dialect.create_statements(ACCESS_LOG):
                tx.execute(statement)

    def append(self, request: ReadRequest, disclosures: Sequence[Disclosure]) -> None:
        """Returns once the entries are committed; raises what writing them raised."""
        if disclosures:
            self.submit(request, disclosures).result()

    def submit(self, request: ReadRequest, disclosures: Sequence[Disclosure]) -> Future[None]:
        """Queues the entries (all at this instant) for the writer thread; the future is done
        when the batch holding them is committed (or failed: then every answer in the batch is
        refused, as each would have been alone, since nothing in an entry can be refused)."""
        done: Future[None] = Future()
        with self._lock:
            self._pending.append((request, disclosures, datetime.now(UTC), done))
            if self._writing:
                self._wake.notify()
            else:
                self._writing = True
                threading.Thread(target=self._write_batches, name="access-log", daemon=True).start()
        return done

    def _write_batches(self) -> None:
        """Writes what queued while the previous batch was written; ends after ``LINGER_SECONDS``
        with nothing queued, so an idle process keeps no thread."""
        while True:
            with self._lock:
                if not self._pending:
                    self._wake.wait(self.LINGER_SECONDS)
                if not self._pending:
                    self._writing = False
                    return
                batch = list(self._pending)
                self._pending.clear()
            try:
                self._write(batch)
            except BaseException as error:  # noqa: BLE001 (each caller gets it, as a 503)
                for *_, done in batch:
                    done.set_exception(error)
            else:
                for *_, done in batch:
                    done.set_result(None)

    def _write(self, batch: Sequence[_Pending]) -> None:
        names = ACCESS_LOG.column_names
        rows = [
            dict(
                zip(
                    names,
                    (
                        uuid.uuid4(),
                        at,
                        request.principal,
                        request.role,
                        request.token_id,
                        d.complaint_id,
                        d.customer_id,
                        json.dumps(sorted(d.fields)),
                        request.route,
                        request.request_id,
                        request.purpose,
                    ),
                    strict=True,
                )
            )
            for request, disclosures, at, _ in batch
            for d in disclosures
        ]
        with self._store.write(one_statement=True) as tx:
            # One statement of eleven column arrays on PostgreSQL (the views' batched write),
            # committed by itself: no BEGIN and COMMIT round trips, which were most of a batch's
            # cost under 16 clients (a batch held one or two answers; docs/performance.md,
            # session 24). Parsed once on either side: a placeholder per value made psycopg
            # parse the text again for every batch, and with a statement per row PostgreSQL
            # spent 1.8 ms of CPU per list page of 50 rows, against 1.6 ("Reads, session 23").
            tx.insert(ACCESS_LOG, rows)

    def entries(
        self, filters: AccessLogFilters, *, limit: int = 50, cursor: str | None = None
    ) -> AccessLogPage:
        """Newest first, ``limit`` at a time; ``cursor`` is the previous page's ``next_cursor``."""
        where: list[str] = []
        params: list[Any] = []
        with self._store.read() as tx:
            for column, value in (
                ("customer_id", filters.customer_id),
                ("complaint_id", filters.complaint_id),
                ("principal", filters.principal),
            ):
                if value is not None:
                    where.append(f"{column} = %s")
                    params.append(tx.encode(ACCESS_LOG, column, value))
            if filters.from_ is not None:
                where.append("at >= %s")
                params.append(tx.encode(ACCESS_LOG, "at", filters.from_))
            if filters.to is not None:
                where.append("at < %s")
                params.append(tx.encode(ACCESS_LOG, "at", filters.to))
            if cursor is not None:
                at, entry_id = decode_cursor(cursor)
                where.append("(at, id) < (%s, %s)")
                params += [tx.encode(ACCESS_LOG, "at", at), tx.encode(ACCESS_LOG, "id", entry_id)]
            rows = tx.rows(
                f"SELECT * FROM {tx.table(ACCESS_LOG.name)}"
                + (f" WHERE {' AND '.join(where)}" if where else "")
                + " ORDER BY at DESC, id DESC LIMIT %s",
                [*params, limit + 1],
            )
            decoded = [tx.dialect.decode_row(ACCESS_LOG, row) for row in rows]
        page = decoded[:limit]
        items = [AccessLogEntry(**{**row, "fields": json.loads(row["fields"])}) for row in page]
        more = len(decoded) > limit
        return AccessLogPage(
            items=items,
            next_cursor=encode_cursor(page[-1]["at"], page[-1]["id"]) if more else None,
        )


def encode_cursor(at: datetime, entry_id: UUID) -> str:
    raw = json.dumps([at.isoformat(), str(entry_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The time and id of the last entry served; anything else is refused as foreign."""
    foreign = InvalidQueryError("cursor", "is not a cursor this endpoint issued")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise foreign from None
    if not (
        isinstance(payload, list) and len(payload) == 2 and all(isinstance(p, str) for p in payload)
    ):
        raise foreign
    try:
        at, entry_id = datetime.fromisoformat(payload[0]), UUID(payload[1])
    except ValueError:
        raise foreign from None
    if at.tzinfo is None or not is_plausible_instant(at):
        raise foreign
    return at, entry_id
