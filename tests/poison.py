"""Events that intake refuses today but that stores written before the hardening may hold.

They are saved straight through the aggregate and ``app.save`` (bypassing the command models and
the HTTP layer), so tests can show that every reader of the event log (projections, the event
feed, history, as-of, webhooks, relays) moves past them instead of failing on them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from aggregates.complaint import Complaint
from aggregates.provenance import Provenance
from aggregates.reference import ComplaintReference, new_reference
from aggregates.values import Customer, Product
from commands.application import ComplaintsApp

BY = Provenance(actor="legacy-import", correlation_id="poison-test")

# An instant whose UTC value is before year 1: ``astimezone(UTC)`` raises OverflowError.
BEFORE_YEAR_ONE = datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=1)))
# An instant whose UTC value is after year 9999.
AFTER_YEAR_9999 = datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1)))
# A NUL character: PostgreSQL text cannot hold one (psycopg.DataError).
NUL_TEXT = "nul\x00here"


def legacy_filing(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of ``Complaint.file`` for an otherwise ordinary complaint."""
    fields: dict[str, Any] = {
        "customer": Customer(id="CUST-9", name="Legacy", phone="13800000000"),
        "product": Product(name="X9 phone"),
        "category": "product_quality",
        "subject": "Imported from the old system",
        "description": "Stored before intake checked dates and control characters.",
        "channel": "web",
        "severity": "medium",
        "region": "east",
        "received_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    fields.update(overrides)
    return fields


def store_poison(app: ComplaintsApp, **overrides: Any) -> UUID:
    """Files a complaint with ``overrides`` (e.g. ``received_at=BEFORE_YEAR_ONE`` or
    ``subject=NUL_TEXT``) directly into the event store; returns its id."""
    reference = new_reference()
    complaint = Complaint.file(reference=reference, by=BY, **legacy_filing(**overrides))
    app.save(complaint, ComplaintReference.register(reference, complaint.id))
    return complaint.id


def store_poison_comment(app: ComplaintsApp, complaint_id: UUID, body: str = NUL_TEXT) -> None:
    """Adds a comment (default: one with a NUL) to a stored complaint, bypassing intake."""
    complaint: Complaint = app.repository.get(complaint_id)
    complaint.comment(body, visibility="customer", by=BY)
    app.save(complaint)


POISONS: dict[str, dict[str, Any]] = {
    "received-before-year-one": {"received_at": BEFORE_YEAR_ONE},
    "received-after-year-9999": {"received_at": AFTER_YEAR_9999},
    "occurred-before-year-one": {"occurred_at": BEFORE_YEAR_ONE},
    "nul-in-subject": {"subject": NUL_TEXT},
    "nul-in-customer-name": {"customer": Customer(id="CUST-9", name=NUL_TEXT, phone="1")},
    "nul-in-region": {"region": NUL_TEXT},
}
"""Named poison filings, for parametrised tests."""
