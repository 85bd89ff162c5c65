"""The latest version of recently read complaints, each with its position, kept between reads.

``GET /complaints/{id}`` is strongly consistent: every read asks the store for events after the
version it holds, in one query that also carries their positions (``Database.events_after``), and
answers unchanged complaints without copying them.

Why not the application's repository (``app.get_complaint``): it fast-forwards its cached aggregate
in place, then deep-copies it for the caller to mutate (a command), and the position takes a second
query. A read mutates nothing, so here a cached complaint is never changed once cached: new events
are applied to a copy, which replaces it. Readers may therefore share it, from any thread, and must
treat it as read-only.
"""

from __future__ import annotations

import copy
import threading
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache

from aggregates.complaint import Complaint
from commands.application import ComplaintsApp
from commands.errors import ComplaintNotFoundError
from projections.database import database_of

CACHE_SIZE = 10_000
"""Complaints kept per process (the application's repository keeps as many for commands)."""


class LatestComplaints:
    def __init__(self, app: ComplaintsApp, size: int = CACHE_SIZE) -> None:
        self.app = app
        self._database = database_of(app)
        self._cache: LRUCache[UUID, tuple[Complaint, int]] = LRUCache(size)
        self.shown: LRUCache[UUID, tuple[Complaint, Any]] = LRUCache(size)
        """A cached complaint's representation, kept by the query that makes it
        (``queries.complaint_state.read_complaint``) with the complaint it was made of: a
        complaint cached here never changes, so the same object means the same answer."""
        self._replacing = threading.Lock()

    def get(self, complaint_id: UUID) -> tuple[Complaint, int]:
        """The complaint as last stored and the position of its last event; shared: read-only."""
        try:
            cached: tuple[Complaint, int] | None = self._cache.get(complaint_id)
        except KeyError:
            cached = None
        events = self._database.events_after(complaint_id, cached[0].version if cached else 0)
        if not events:
            if cached is None:
                raise ComplaintNotFoundError(f"no complaint with id {complaint_id}")
            return cached
        # Deep, as the repository copies: events change nested lists (comments) too.
        complaint = copy.deepcopy(cached[0]) if cached else None
        for stored in events:
            complaint = self.app.mapper.to_domain_event(stored).mutate(complaint)  # type: ignore[attr-defined]
        if not isinstance(complaint, Complaint):  # the id of another kind of aggregate
            raise ComplaintNotFoundError(f"no complaint with id {complaint_id}")
        latest = (complaint, events[-1].id)
        with self._replacing:
            # Another reader may have cached a later version meanwhile: keep the later one.
            try:
                current = self._cache.get(complaint_id)
            except KeyError:
                current = None
            if current is None or current[0].version < complaint.version:
                self._cache.put(complaint_id, latest)
        return latest
