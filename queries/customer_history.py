"""The ``CustomerHistory`` port (``commands/customer_history.py``) over the customers view, exact
even while the view lags.

The view knows every complaint up to its position; the ``Filed``, ``Closed`` and ``Reopened``
events after that position (customer id and order number are in the clear in them) are applied
on top, in order, the way ``queries/customer_complaints.py`` does for erasure. So a complaint
filed a moment ago, not yet in the view, is still found by the next filing of the same
customer. The cost of that tail grows with the view's lag: with the projections running it is a
few events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from commands.customer_history import PriorComplaint
from projections.customers import CUSTOMERS_COMPLAINTS, CustomersProjection
from projections.store import ReadModelStore

FILED, CLOSED, REOPENED = (
    get_topic(Complaint.Filed), get_topic(Complaint.Closed), get_topic(Complaint.Reopened)
)


@dataclass(frozen=True)
class _Tail:
    """An event after the view's position, as far as this port needs it."""

    topic: str
    complaint_id: UUID
    at: datetime
    state: dict[str, Any]


class ViewCustomerHistory:
    """A customer's (or an order's) open and recent complaints: the customers view plus the
    events it has not applied yet."""

    def __init__(self, store: ReadModelStore) -> None:
        self.store = store

    def prior(
        self, customer_id: str, order_number: str | None, since: datetime
    ) -> Sequence[PriorComplaint]:
        store = self.store
        position = store.position(CustomersProjection.name)
        # Reopens in the tail may bring back a complaint the view holds as closed long ago:
        # those are read from the view by id, whoever they belong to, and filtered below.
        tail = self._tail(position)
        reopened = sorted({t.complaint_id for t in tail if t.topic == REOPENED}, key=str)
        found = {p.id: p for p in self._from_view(customer_id, order_number, since, reopened)}
        for t in tail:
            if t.topic == FILED:
                customer, product = t.state["customer"], t.state["product"]
                order = product.get("order_number") or None
                if str(customer.get("id")) == customer_id or (
                    order_number is not None and order == order_number
                ):
                    found[t.complaint_id] = PriorComplaint(
                        t.complaint_id, str(t.state["reference"]), str(customer.get("id")),
                        order, t.at, None,
                    )
            elif (known := found.get(t.complaint_id)) is not None:
                found[t.complaint_id] = replace(
                    known, closed_at=t.at if t.topic == CLOSED else None
                )
        recent = [
            p for p in found.values()
            if (p.customer_id == customer_id or (order_number and p.order_number == order_number))
            and (p.closed_at is None or p.closed_at >= since or p.filed_at >= since)
        ]
        return sorted(recent, key=lambda p: (p.filed_at, str(p.id)))

    def _from_view(
        self, customer_id: str, order_number: str | None, since: datetime, ids: list[UUID]
    ) -> list[PriorComplaint]:
        table = CUSTOMERS_COMPLAINTS
        with self.store.read() as tx:
            name = tx.table(table.name)
            at = tx.encode(table, "filed_at", since)
            recent = "(is_open = TRUE OR closed_at >= %s OR filed_at >= %s)"
            statement = f"SELECT * FROM {name} WHERE customer_id = %s AND {recent}"
            params: list[Any] = [customer_id, at, at]
            if order_number is not None:
                statement += f" UNION SELECT * FROM {name} WHERE order_number = %s AND {recent}"
                params += [order_number, at, at]
            if ids:
                marks = ", ".join(["%s"] * len(ids))
                statement += f" UNION SELECT * FROM {name} WHERE id IN ({marks})"
                params += [tx.encode(table, "id", i) for i in ids]
            rows = tx.rows(statement, params)
        decode = self.store.dialect.decode_row
        return [
            PriorComplaint(
                id=UUID(str(r["id"])),
                reference=r["reference"],
                customer_id=r["customer_id"],
                order_number=r["order_number"],
                filed_at=r["filed_at"],
                closed_at=r["closed_at"],
            )
            for r in (decode(table, row) for row in rows)
        ]

    def _tail(self, position: int) -> list[_Tail]:
        store = self.store
        head = store.app.recorder.max_notification_id() or 0
        if head <= position:
            return []
        decode = store.app.mapper.transcoder.decode
        tail = []
        for n in store.notifications(position + 1, head, [FILED, CLOSED, REOPENED]):
            state = decode(n.state)
            tail.append(_Tail(n.topic, UUID(str(n.originator_id)), state["timestamp"], state))
        return tail
