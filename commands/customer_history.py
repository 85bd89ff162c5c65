"""What the write side may know of a customer's earlier complaints (repeat complaints, issue 12).

The customers view (``projections/customers.py``) answers it; the composition root plugs it in
(``ComplaintsApp.customer_history``). It may lag the event store by a moment, like every view:
a repeat complaint filed within that moment of the last one is still linked by the next one.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID


@dataclass(frozen=True)
class PriorComplaint:
    id: UUID
    reference: str
    customer_id: str
    order_number: str | None
    filed_at: datetime
    closed_at: datetime | None
    """``None`` while open."""


MAX_PRIOR = 200
"""At most this many prior complaints are answered (the newest): a filing's cost must not grow
with a customer's history (a benchmark filing for one customer slowed down with every complaint
before this bound). Links take the newest 10; a count over them (``complaints_last_30_days``)
reads at most ``MAX_PRIOR`` + 1."""


class CustomerHistory(Protocol):
    def prior(
        self, customer_id: str, order_number: str | None, since: datetime
    ) -> Sequence[PriorComplaint]:
        """The complaints of ``customer_id``, or about ``order_number`` when given, that are
        open, or were filed or closed at or after ``since``: the newest ``MAX_PRIOR`` of them
        (by filing), oldest first."""


class NoHistory:
    """No view plugged in (unit tests, tools): every customer is new."""

    def prior(
        self, customer_id: str, order_number: str | None, since: datetime
    ) -> Sequence[PriorComplaint]:
        return ()


def prior_complaints(
    history: CustomerHistory,
    shared: MutableMapping[Any, Any],
    customer_id: str,
    order_number: str | None,
    since: datetime,
) -> Sequence[PriorComplaint]:
    """``history.prior``, read once per save: the repeat links and the automation rules of one
    filing both ask, and a lookup is several queries (a profile of filing put it at about a
    fifth of the rules' cost), so a later question that the first answer covers (the same
    customer, the same order or none, a ``since`` no earlier) is answered from it."""
    key = ("customer-history", customer_id)
    asked = shared.get(key)
    if asked is not None:
        order, asked_since, found = asked
        if order_number in (None, order) and asked_since <= since:
            return [
                p for p in found
                if (
                    p.customer_id == customer_id
                    or (order_number is not None and p.order_number == order_number)
                )
                and (p.closed_at is None or p.closed_at >= since or p.filed_at >= since)
            ]
    found = history.prior(customer_id, order_number, since)
    shared[key] = (order_number, since, found)
    return found
