"""A customer's erasure record: each erasure of their personal data, who asked and why.

One aggregate per customer, its id derived from the customer id (uuid5, as the reference index
does), so every erasure of one customer lands on one record and two erasures racing collide on
its version instead of both being recorded. The record holds no personal data: the customer id,
the complaints and data keys concerned, the actor and the reason (which must not quote personal
data; it is kept in the clear as evidence that the request was honoured).
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from aggregates.errors import InvalidIntakeError
from aggregates.provenance import Provenance

_NAMESPACE = uuid5(NAMESPACE_URL, "complaint-ledger:erasure-record")


def erasure_record_id(customer_id: str) -> UUID:
    return uuid5(_NAMESPACE, customer_id)


class ErasureRecord(Aggregate):
    """Every erasure of one customer's personal data (``CustomerDataErased``), in order."""

    class Opened(Aggregate.Created):
        customer_id: str

    class CustomerDataErased(Aggregate.Event):
        """The customer's data keys were destroyed and their complaints told so."""

        actor: str
        correlation_id: str
        causation_id: str | None
        reason: str
        complaint_ids: list[str]
        data_key_ids: list[str]

        def apply(self, record: ErasureRecord) -> None:
            record.erasures += 1

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.erasures = 0

    @staticmethod
    def create_id(customer_id: str) -> UUID:
        return erasure_record_id(customer_id)

    @classmethod
    def open(cls, customer_id: str) -> ErasureRecord:
        return cls._create(cls.Opened, customer_id=customer_id)

    def record_erasure(
        self,
        reason: str,
        *,
        complaint_ids: list[UUID],
        data_key_ids: list[str],
        by: Provenance,
    ) -> None:
        if not reason or not reason.strip():
            raise InvalidIntakeError("reason", "is required")
        self.trigger_event(
            self.CustomerDataErased,
            reason=reason,
            complaint_ids=sorted(str(c) for c in complaint_ids),
            data_key_ids=sorted(data_key_ids),
            **by.as_event_fields(),
        )
