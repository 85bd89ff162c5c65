"""Event ids: derived, not stored.

The library keeps no id per event, and (aggregate id, version) identifies one event forever, so
the same event gets the same id on every transport and replay (the CloudEvents ``id`` of the
outbound stream) and wherever another event names it as its cause (``causation_id``: an
escalation names the breach that caused it).
"""

from __future__ import annotations

from uuid import UUID, uuid5

EVENT_ID_NAMESPACE = UUID("6f1f6a0e-3c1e-5b8e-9a43-2b7c0c5d1e42")


def event_id(originator_id: UUID, originator_version: int) -> UUID:
    """The id of the aggregate's event at ``originator_version``."""
    return uuid5(EVENT_ID_NAMESPACE, f"{originator_id}/{originator_version}")
