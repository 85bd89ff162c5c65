"""A read-model store that replays another store's events only up to a position.

Reports as of a past instant (``queries/analytics_as_of.py``) rebuild a view into a scratch
database from the events recorded up to that instant's position. The runner needs no change for
that: it asks its store for the head and for windows of notifications, and this store answers them
from the source database, cut at ``up_to``, while the view's tables and its tracking position live
in the scratch database (``ReadModelStore`` over the scratch application).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from projections.database import Database, StoredRow
from projections.store import ReadModelStore


class BoundedReadModelStore(ReadModelStore):
    """Tables and positions in ``scratch``; events from ``source``, positions 1 to ``up_to``."""

    def __init__(self, scratch: Application[UUID], source: Database, up_to: int) -> None:
        super().__init__(scratch)
        self.source = source
        self.up_to = up_to

    def head(self) -> int:
        return min(self.up_to, self.source.max_notification_id() or 0)

    def notifications(
        self, first: int, last: int, topics: Sequence[str]
    ) -> Sequence[Notification | StoredRow]:
        return self.source.notifications_between(first, min(last, self.up_to), topics)
