"""Whether this process can serve: the database answers, the tables exist, the read models are
not too far behind. Answers a reason code, never a figure (the probe is public)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.application import Application

from projections.store import ReadModelStore

DATABASE_UNREACHABLE = "database-unreachable"
TABLES_MISSING = "tables-missing"
PROJECTION_LAG = "projection-lag"


def not_ready(
    app: Application[UUID], store: ReadModelStore, projections: Sequence[str], max_lag_events: int
) -> str | None:
    """None when ready, else why not. The log's head proves the database answers with the
    events table; the tracking table read proves the tables were created (``bootstrap``)."""
    try:
        head = app.recorder.max_notification_id() or 0
    except Exception:
        return DATABASE_UNREACHABLE
    try:
        positions = store.positions(list(projections))
    except Exception:
        return TABLES_MISSING
    if any(head - positions.get(name, 0) > max_lag_events for name in projections):
        return PROJECTION_LAG
    return None
