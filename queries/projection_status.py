"""Where each projection stands against the event store's head: position, lag in events and time."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import Application
from pydantic import BaseModel

from projections.store import ReadModelStore


class ProjectionPosition(BaseModel):
    name: str
    position: int
    lag_events: int
    lag_seconds: float


class ProjectionsStatus(BaseModel):
    head: int
    projections: list[ProjectionPosition]


def projection_status(
    app: Application[UUID], store: ReadModelStore, names: list[str]
) -> ProjectionsStatus:
    head = app.recorder.max_notification_id() or 0
    now = datetime.now(UTC)
    found = []
    for name in names:
        position = store.position(name)
        lag_seconds = 0.0
        if position < head:
            # Age of the oldest event the projection has not processed yet.
            waiting = app.recorder.select_notifications(position + 1, limit=1)
            if waiting:
                event = app.mapper.to_domain_event(waiting[0])
                recorded_at: datetime = event.timestamp  # type: ignore[attr-defined]
                lag_seconds = max(0.0, (now - recorded_at).total_seconds())
        found.append(
            ProjectionPosition(
                name=name, position=position, lag_events=max(0, head - position),
                lag_seconds=round(lag_seconds, 3),
            )
        )
    return ProjectionsStatus(head=head, projections=found)
