"""Pages of the public event feed, read from the event store's notification log.

Complaint events share the notification log with internal records (access tokens, reference index,
idempotency records), so public positions have gaps: consumers follow ``next_cursor`` (or the SSE
id), never position + 1.

Completeness under concurrent writes: each page is bounded by the head read *before* it. On
PostgreSQL the recorder takes an EXCLUSIVE table lock for every insert, so notification ids commit
in id order and every id up to a committed head is already visible (or rolled back for ever); on
SQLite there is one writer at a time. A cursor can therefore jump to the head without ever passing
over an event that commits later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, PersistenceError
from eventsourcing.utils import get_topic

from commands.personal_data_mapper import DataKeyUnavailableError, PersonalDataMapper
from projections.database import StoredRow, database_of
from stream.envelope import DEFAULT_SOURCE, PUBLIC_TYPES, TYPE_CLASSES, to_cloud_event

log = logging.getLogger(__name__)

TOPICS: dict[str, str] = {name: get_topic(cls) for name, cls in TYPE_CLASSES.items()}


class UnknownEventTypeError(ValueError):
    """Raised when a type filter names no public event type."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown event type {name!r}; known types: {', '.join(sorted(TYPE_CLASSES))}"
        )


@dataclass(frozen=True)
class FeedPage:
    events: list[dict[str, Any]]
    next_cursor: int
    """Pass as ``after`` to continue; may lie beyond the last event (skipped internal records)."""
    more: bool = False
    """True when the page was cut by ``limit``: read again at once rather than waiting."""


def topics_for(types: Sequence[str] | None) -> list[str]:
    """Stored topics of the given public types (all public types when none are given)."""
    if not types:
        return list(TOPICS.values())
    unknown = [t for t in types if t not in TOPICS]
    if unknown:
        raise UnknownEventTypeError(unknown[0])
    return [TOPICS[t] for t in dict.fromkeys(types)]


def head(app: Application[UUID]) -> int:
    return app.recorder.max_notification_id() or 0


def read_page(
    app: Application[UUID],
    *,
    after: int,
    limit: int,
    types: Sequence[str] | None = None,
    aggregate_id: UUID | None = None,
    source: str = DEFAULT_SOURCE,
    personal_data: bool = False,
) -> FeedPage:
    """Up to ``limit`` public events with position > ``after``, in position order; their
    personal fields masked unless ``personal_data`` (whoever reads them may see them)."""
    topics = topics_for(types)
    stop = head(app)  # read first: everything up to it is committed, see the module docstring
    if stop <= after:
        return FeedPage([], after)
    if aggregate_id is None:
        notifications = app.recorder.select_notifications(
            start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=False
        )
    else:
        notifications = database_of(app).notifications_of(
            aggregate_id, after=after, stop=stop, limit=limit, topics=topics
        )
    if isinstance(app.mapper, PersonalDataMapper):
        app.mapper.open_keys_of(notifications)
    events = [
        envelope
        for n in notifications
        if n.topic in _PUBLIC_TOPIC_SET
        and (envelope := decoded_envelope(app, n, source, personal_data)) is not None
    ]
    full = len(notifications) >= limit
    return FeedPage(events, notifications[-1].id if full else stop, more=full)


_PUBLIC_TOPIC_SET = frozenset(get_topic(cls) for cls in PUBLIC_TYPES)


def decoded_envelope(
    app: Application[UUID], notification: Notification | StoredRow, source: str,
    personal_data: bool,
) -> dict[str, Any] | None:
    """The CloudEvent of one notification, or None (logged) when its stored state cannot be
    decoded: every follower (webhooks, relays, SSE) would otherwise stop at it for ever."""
    try:
        return to_cloud_event(
            app.mapper.to_domain_event(notification),  # type: ignore[arg-type]
            notification.id, source,
            personal_data=personal_data,
        )
    except (DataKeyUnavailableError, PersistenceError):
        # Not the event's fault (a master key not configured, the data key store unreachable):
        # skipping would make followers pass it for good. The request fails; followers retry.
        raise
    except Exception:
        log.exception(
            "event feed: skipped the undecodable event at position %d (%s)",
            notification.id, notification.topic,
        )
        return None

