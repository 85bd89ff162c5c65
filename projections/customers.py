"""The customers view: every complaint by customer id and by order number (repeat complaints,
issue 12).

One row per complaint in ``customers_complaints`` (customer id, reference, order number, status,
filed and closed instants). A customer's figures (complaints, open, filed in the last 30 days,
last filed) are computed from those rows when read (``queries/customers.py``): "the last 30
days" moves with the clock, so it cannot be a stored counter, and one customer's rows are an
index probe. The repeat-complaint rule finds a customer's or an order's earlier complaints here
(``queries/customer_history.py``).

No personal data: the customer id is a pseudonymous id (what erasure finds complaints by), the
order number and reference are not personal (``aggregates/personal_data.py``); names, phones and
e-mails are never stored, so an erasure leaves nothing here to erase.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aggregates.complaint import Complaint
from aggregates.vocabulary import Status
from projections.complaint_rows import fold, rows_to_change, topics_of
from projections.projection import Positioned, Projection
from projections.schema import Index, Table, columns
from projections.store import Tx

NEW, ASSIGNED, CLOSED = Status.NEW.value, Status.ASSIGNED.value, Status.CLOSED.value
PENDING_CUSTOMER = Status.PENDING_CUSTOMER.value

CUSTOMERS_COMPLAINTS = Table(
    name="customers_complaints",
    columns=columns(
        "id uuid, customer_id text, reference text, order_number text?, status text, "
        "has_assignee bool, is_open bool, filed_at timestamp, closed_at timestamp?"
    ),
    key=("id",),
    indexes=(
        Index("customers_complaints_customer", ("customer_id", "filed_at")),
        Index("customers_complaints_order", ("order_number", "filed_at")),
    ),
)


class CustomersProjection(Projection):
    name = "customers"
    topics = topics_of(
        Complaint.Filed, Complaint.Assigned, Complaint.Closed, Complaint.Reopened,
        Complaint.CustomerAwaited, Complaint.CustomerReplied,
    )
    tables = (CUSTOMERS_COMPLAINTS,)

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        rows = rows_to_change(tx, CUSTOMERS_COMPLAINTS, events)
        fold(rows, events, transcribe)
        tx.upsert(CUSTOMERS_COMPLAINTS, list(rows.values()))


def transcribe(row: dict[str, Any] | None, p: Positioned) -> dict[str, Any]:
    """The row after the event (mirrors the aggregate's ``apply`` for status)."""
    e = p.event
    kind = type(e)
    if kind is Complaint.Filed:
        return {
            "id": e.originator_id,
            "customer_id": str(e.customer.get("id")),
            "reference": e.reference,
            "order_number": e.product.get("order_number") or None,
            "status": NEW,
            "has_assignee": False,
            "is_open": True,
            "filed_at": e.timestamp,
            "closed_at": None,
        }
    assert row is not None
    if kind is Complaint.Assigned:
        row["has_assignee"] = True
        if row["status"] != PENDING_CUSTOMER:
            row["status"] = ASSIGNED
    elif kind is Complaint.Closed:
        row["status"], row["is_open"], row["closed_at"] = CLOSED, False, e.closed_time
    elif kind is Complaint.Reopened:
        row["status"] = ASSIGNED if row["has_assignee"] else NEW
        row["is_open"], row["closed_at"] = True, None
    elif kind is Complaint.CustomerAwaited:
        row["status"] = PENDING_CUSTOMER
    elif kind is Complaint.CustomerReplied:
        row["status"] = ASSIGNED if row["has_assignee"] else NEW
    return row
