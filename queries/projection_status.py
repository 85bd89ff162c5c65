"""Where each projection stands against the event store's head: position, lag in events and time,
and the events it has quarantined (``projections/quarantine.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import Application
from pydantic import BaseModel, ConfigDict, Field

from projections import quarantine
from projections.store import ReadModelStore

SHOWN_QUARANTINED = 5
"""How many quarantined events the status lists per projection (the first, by position)."""


# A quarantined event as the API shows it: its dead-letter row without the projection's name, the
# aggregate's id and version under their public names. Declared apart from the row, so a change to
# what the quarantine stores never changes the API unnoticed. (A comment, not a docstring: that
# would become the schema's description.)
class QuarantinedEvent(BaseModel):
    # Read from a dead-letter row's attributes (``shown``), two of them under their row names.
    model_config = ConfigDict(from_attributes=True)

    position: int
    complaint_id: UUID = Field(validation_alias="originator_id")
    version: int = Field(validation_alias="originator_version")
    topic: str
    error_class: str
    """``parked`` for an event held back behind an earlier quarantined one of its complaint."""
    error_message: str
    parked_behind: int | None
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime


class ProjectionPosition(BaseModel):
    name: str
    position: int
    lag_events: int
    lag_seconds: float | None
    """None when the oldest unprocessed event cannot be decoded (it will be quarantined)."""
    quarantined: int
    quarantine: list[QuarantinedEvent]
    """The first few quarantined events, by position; ``complaints projections retry NAME``
    applies them again."""


class ProjectionsStatus(BaseModel):
    head: int
    projections: list[ProjectionPosition]


def _lag_seconds(app: Application[UUID], position: int, now: datetime) -> float | None:
    """Age of the oldest event the projection has not processed yet."""
    waiting = app.recorder.select_notifications(position + 1, limit=1)
    if not waiting:
        return 0.0
    try:
        event = app.mapper.to_domain_event(waiting[0])
        recorded_at: datetime = event.timestamp  # type: ignore[attr-defined]
        return round(max(0.0, (now - recorded_at).total_seconds()), 3)
    except Exception:  # an undecodable or oddly dated event must not break the status
        return None


def shown(entry: quarantine.Quarantined) -> QuarantinedEvent:
    return QuarantinedEvent.model_validate(entry)


def projection_status(
    app: Application[UUID], store: ReadModelStore, names: list[str]
) -> ProjectionsStatus:
    head = app.recorder.max_notification_id() or 0
    now = datetime.now(UTC)
    with store.read() as tx:
        counts = quarantine.counts(tx)
        first = {
            name: quarantine.entries(tx, name, limit=SHOWN_QUARANTINED)
            for name in names if counts.get(name)
        }
    found = []
    for name in names:
        position = store.position(name)
        found.append(
            ProjectionPosition(
                name=name, position=position, lag_events=max(0, head - position),
                lag_seconds=_lag_seconds(app, position, now) if position < head else 0.0,
                quarantined=counts.get(name, 0),
                quarantine=[shown(e) for e in first.get(name, [])],
            )
        )
    return ProjectionsStatus(head=head, projections=found)
