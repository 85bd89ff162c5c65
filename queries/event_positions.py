"""Notification ids (positions) of one aggregate's events.

The library's ``select_events`` returns stored events without their notification ids, and a
complaint's representation must carry the position of its last event; the database reads them
(``Database.event_positions``).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application

from projections.database import database_of


def event_positions(app: Application[UUID], originator_id: UUID) -> dict[int, int]:
    """Maps each version of the aggregate to the notification id of its event."""
    return database_of(app).event_positions(originator_id)


def event_position(app: Application[UUID], originator_id: UUID, version: int) -> int | None:
    return event_positions(app, originator_id).get(version)
