"""Every aggregate of one kind, found through its "created" event in the notification log.

The store has no index of aggregates by kind; the notification log, filtered by the topic of the
event that creates them, is one (oldest first). Used for the few kinds that are listed whole:
access tokens, business calendars.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

PAGE_SIZE = 1000
A = TypeVar("A")


def created(app: Application[UUID], created_event: type, kind: type[A]) -> Iterator[A]:
    """Every aggregate of class ``kind`` created by an event of class ``created_event``, in the
    order they were created, as they are now (read a page of notifications at a time)."""
    topic = get_topic(created_event)
    start = 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=PAGE_SIZE, topics=[topic])
        for notification in page:
            aggregate: object = app.repository.get(UUID(str(notification.originator_id)))
            if isinstance(aggregate, kind):
                yield aggregate
        if len(page) < PAGE_SIZE:
            return
        start = page[-1].id + 1
