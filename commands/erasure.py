"""Erasing a customer's personal data: destroy their data keys, then tell their complaints.

Destroying the keys is what erases: every value they sealed, in every stored event and every copy
of the events, is unreadable from then on. The events recorded next (``CustomerDataErased`` on the
customer's erasure record, ``PersonalDataErased`` on each complaint, in one save) carry the
erasure through the ordinary event flow: cached complaints in every process and every projection
replace what they hold. Keys first: if recording fails, the data are still gone and a retry
records the events; the other way round, a failure would leave the data readable.

A second erasure of the same customer changes nothing and says so (``already_erased``), unless
personal data arrived since (a new complaint, a comment): then those are erased too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from aggregates.complaint import Complaint
from aggregates.erasure_record import ErasureRecord, erasure_record_id
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.errors import ConcurrencyConflictError, CustomerNotFoundError
from commands.models import EraseCustomerData

SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class Erasure:
    """What one destruction of a customer's keys did."""

    data_key_ids: list[str]
    """The keys destroyed now (none when they already were)."""
    complaint_ids: list[UUID]
    """The complaints newly marked erased (for their plaintext values)."""


class KeyShredder(Protocol):
    """The data key store's erasure side (``infra/data_keys.py``)."""

    def erase(self, customer_id: str, complaint_ids: Iterable[UUID], reason: str) -> Erasure: ...

    def erased_complaints(self, customer_id: str) -> list[UUID]: ...

    def has_keys(self, customer_id: str) -> bool: ...


@dataclass(frozen=True)
class ErasureResult:
    customer_id: str
    already_erased: bool
    """Nothing was left to erase: no live key, no complaint showing personal data."""
    complaint_ids: list[UUID]
    """The customer's complaints that this erasure told (``PersonalDataErased``)."""
    data_key_ids: list[str]
    """The data keys this erasure destroyed."""
    position: int | None
    """Notification id of the last event written; None when nothing was written."""


def erase_customer(
    app: ComplaintsApp,
    keys: KeyShredder,
    customer_id: str,
    command: EraseCustomerData,
    complaint_ids: Iterable[UUID],
    ctx: CommandContext,
) -> ErasureResult:
    """Erases ``customer_id``'s personal data. ``complaint_ids``: their complaints as the read
    side knows them (the key store adds those erased before)."""
    known = set(complaint_ids) | set(keys.erased_complaints(customer_id))
    record = _record(app, customer_id)
    if not known and record is None and not keys.has_keys(customer_id):
        raise CustomerNotFoundError(f"no complaint or data of customer {customer_id!r}")
    erasure = keys.erase(customer_id, known, command.reason)
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        complaints = [c for c in (_complaint(app, i) for i in sorted(known, key=str)) if c]
        pending = [c for c in complaints if c.customer.id == customer_id and c.holds_personal_data]
        if record is not None and not pending and not erasure.data_key_ids:
            return ErasureResult(customer_id, True, [], [], None)
        record = record or ErasureRecord.open(customer_id)
        record.record_erasure(
            command.reason,
            complaint_ids=[c.id for c in pending],
            data_key_ids=erasure.data_key_ids,
            by=ctx.provenance,
        )
        for complaint in pending:
            complaint.erase_personal_data(command.reason, by=ctx.provenance)
        try:
            recordings = app.writer.save(record, *pending)
        except IntegrityError:
            if attempt == SAVE_ATTEMPTS:
                raise ConcurrencyConflictError(
                    "the customer's complaints kept changing during the erasure; its data keys"
                    " are destroyed: send the erasure again to record it"
                ) from None
            record = _record(app, customer_id)
            continue
        position = max((r.notification.id for r in recordings), default=None)
        return ErasureResult(
            customer_id, False, [c.id for c in pending], erasure.data_key_ids, position
        )
    raise AssertionError("unreachable")


def _record(app: ComplaintsApp, customer_id: str) -> ErasureRecord | None:
    try:
        record: ErasureRecord = app.repository.get(erasure_record_id(customer_id))
    except AggregateNotFoundError:
        return None
    return record


def _complaint(app: ComplaintsApp, complaint_id: UUID) -> Complaint | None:
    try:
        complaint: Complaint = app.repository.get(complaint_id)
    except AggregateNotFoundError:
        return None
    return complaint if isinstance(complaint, Complaint) else None
