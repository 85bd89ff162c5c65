"""One customer's complaints in figures, from the ``customers`` view (``GET /customers/{id}``).

The figures are computed from the customer's rows when read, so "filed in the last 30 days" is
exact at the moment of reading. Like every view it may lag the event store by a moment; a
client that just filed passes the command's ``position`` as ``min_position``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, Field

from commands.errors import CustomerNotFoundError
from projections.customers import CUSTOMERS_COMPLAINTS
from projections.store import ReadModelStore

RECENT = 10
"""How many of the customer's latest complaints the answer lists."""
WINDOW = timedelta(days=30)
"""What ``last_30_days`` counts."""


class CustomerComplaint(BaseModel):
    id: UUID
    reference: str
    status: str
    filed_at: datetime


class CustomerPublic(BaseModel):
    customer_id: str
    complaints: int = Field(description="Complaints filed by this customer, in all")
    open: int = Field(description="Those not closed")
    last_30_days: int = Field(description="Those filed in the 30 days before the read")
    last_filed_at: datetime | None
    recent: list[CustomerComplaint] = Field(
        description=f"The customer's latest {RECENT} complaints, newest first"
    )


def get_customer(store: ReadModelStore, customer_id: str, now: datetime) -> CustomerPublic:
    """The customer's figures at ``now``; ``CustomerNotFoundError`` if the view holds no
    complaint of theirs."""
    table = CUSTOMERS_COMPLAINTS
    with store.read() as tx:
        name = tx.table(table.name)
        totals = tx.rows(
            "SELECT count(*) AS complaints, "
            "coalesce(sum(CASE WHEN is_open THEN 1 ELSE 0 END), 0) AS open, "
            "coalesce(sum(CASE WHEN filed_at >= %s THEN 1 ELSE 0 END), 0) AS last_30_days, "
            f"max(filed_at) AS last_filed_at FROM {name} WHERE customer_id = %s",
            (tx.encode(table, "filed_at", now - WINDOW), customer_id),
        )[0]
        recent = tx.rows(
            f"SELECT id, reference, status, filed_at FROM {name} WHERE customer_id = %s "
            "ORDER BY filed_at DESC, id DESC LIMIT %s",
            (customer_id, RECENT),
        )
    if not totals["complaints"]:
        raise CustomerNotFoundError(f"no complaint of customer {customer_id}")
    last = totals["last_filed_at"]
    return CustomerPublic(
        customer_id=customer_id,
        complaints=int(totals["complaints"]),
        open=int(totals["open"]),
        last_30_days=int(totals["last_30_days"]),
        last_filed_at=None if last is None else store.dialect.decode("timestamp", last),
        recent=[
            CustomerComplaint.model_validate(store.dialect.decode_row(table, r)) for r in recent
        ],
    )
