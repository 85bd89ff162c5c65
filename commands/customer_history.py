"""What the write side may know of a customer's earlier complaints (repeat complaints, issue 12).

The customers view (``projections/customers.py``) answers it; the composition root plugs it in
(``ComplaintsApp.customer_history``). It may lag the event store by a moment, like every view:
a repeat complaint filed within that moment of the last one is still linked by the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
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


class CustomerHistory(Protocol):
    def prior(
        self, customer_id: str, order_number: str | None, since: datetime
    ) -> Sequence[PriorComplaint]:
        """The complaints of ``customer_id``, or about ``order_number`` when given, that are
        open, or were filed or closed at or after ``since``; oldest first."""


class NoHistory:
    """No view plugged in (unit tests, tools): every customer is new."""

    def prior(
        self, customer_id: str, order_number: str | None, since: datetime
    ) -> Sequence[PriorComplaint]:
        return ()
