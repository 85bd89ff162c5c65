"""A complaint's full history, event by event, read from the event store."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import MapperDeserialisationError
from pydantic import BaseModel

from aggregates.complaint import Complaint
from commands.application import ComplaintsApp
from commands.errors import ComplaintNotFoundError
from projections.database import database_of
from queries.audit_verify import ChainBreak, verify_aggregate
from queries.errors import UndecodableEventError
from queries.event_positions import event_positions

# Public event type names: stable wire names, decoupled from the Python class names.
EVENT_TYPES: dict[type[Any], str] = {
    Complaint.Filed: "filed",
    Complaint.Assigned: "assigned",
    Complaint.Commented: "commented",
    Complaint.Escalated: "escalated",
    Complaint.Closed: "closed",
    Complaint.Reopened: "reopened",
    Complaint.SlaApplied: "sla_applied",
    Complaint.CustomerAwaited: "customer_awaited",
    Complaint.CustomerReplied: "customer_replied",
    Complaint.SlaCycleStarted: "sla_cycle_started",
    Complaint.SlaWarned: "sla_warned",
    Complaint.SlaBreached: "sla_breached",
    Complaint.PersonalDataErased: "personal_data_erased",
    Complaint.SeverityChanged: "severity_changed",
    Complaint.Tagged: "tagged",
    Complaint.Untagged: "untagged",
    Complaint.NotificationRequested: "notification_requested",
    Complaint.LinkedTo: "linked_to",
    Complaint.FollowUpScheduled: "follow_up_scheduled",
    Complaint.FollowUpDone: "follow_up_done",
    Complaint.RemedyProposed: "remedy_proposed",
    Complaint.ApprovalRequested: "approval_requested",
    Complaint.RemedyApproved: "remedy_approved",
    Complaint.RemedyRejected: "remedy_rejected",
    Complaint.CustomerAccepted: "customer_accepted",
    Complaint.CustomerDeclined: "customer_declined",
    Complaint.RemedyFulfilled: "remedy_fulfilled",
    Complaint.SurveyRequested: "survey_requested",
    Complaint.SatisfactionRecorded: "satisfaction_recorded",
    Complaint.Imported: "imported",
}
_ENVELOPE = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "actor",
    "correlation_id",
    "causation_id",
}


class HistoryEvent(BaseModel):
    version: int
    type: str
    occurred_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None
    position: int | None
    data: dict[str, Any]


class History(BaseModel):
    complaint_id: UUID
    reference: str
    events: list[HistoryEvent]
    chain_verified: bool
    """Whether this complaint's stored events verify against their hash chain (docs/audit.md;
    the store as a whole: ``GET /audit/verify``)."""
    chain_breaks: list[ChainBreak]


def event_data(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in _ENVELOPE}


def decoded_events(app: ComplaintsApp, complaint_id: UUID) -> list[Any]:
    """The complaint's domain events, mapped one stored event at a time so that one which does
    not decode is known by its version."""
    events = []
    for stored in app.events.recorder.select_events(complaint_id):
        try:
            events.append(app.events.mapper.to_domain_event(stored))
        except MapperDeserialisationError as error:
            breaks = verify_aggregate(database_of(app), complaint_id)
            raise UndecodableEventError(
                complaint_id, stored.originator_version, str(error), breaks
            ) from error
    return events


def get_history(app: ComplaintsApp, complaint_id: UUID) -> History:
    return read_history(app, complaint_id)[0]


def read_history(app: ComplaintsApp, complaint_id: UUID) -> tuple[History, Complaint]:
    """The history, and the complaint its events make (who holds it now: no second read).

    Raises ``UndecodableEventError`` naming the first stored event that does not decode, with
    the complaint's chain breaks, rather than the mapper's bare error (a 500 saying nothing)."""
    events = decoded_events(app, complaint_id)
    if not events or type(events[0]) is not Complaint.Filed:
        raise ComplaintNotFoundError(f"no complaint with id {complaint_id}")
    positions = event_positions(app, complaint_id)
    complaint: Any = None
    for e in events:
        complaint = e.mutate(complaint)  # type: ignore[attr-defined]
    breaks = verify_aggregate(database_of(app), complaint_id)
    return History(
        complaint_id=complaint_id,
        reference=events[0].reference,  # type: ignore[attr-defined]
        events=[
            HistoryEvent(
                version=e.originator_version,
                type=EVENT_TYPES[type(e)],
                occurred_at=e.timestamp,  # type: ignore[attr-defined]
                actor=e.actor,  # type: ignore[attr-defined]
                correlation_id=e.correlation_id,  # type: ignore[attr-defined]
                causation_id=e.causation_id,  # type: ignore[attr-defined]
                position=positions.get(e.originator_version),
                data=event_data(e),
            )
            for e in events
        ],
        chain_verified=not breaks,
        chain_breaks=breaks,
    ), complaint
