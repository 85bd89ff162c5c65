"""Scratch read-model stores for views rebuilt at a past position (``queries/analytics_as_of.py``).

Each is a temporary SQLite file, whatever the event store is: it holds one view for one report,
needs no other process, and goes away with its directory when the cache drops it. A file rather
than an in-memory database keeps a large view (a year of analytics cases) out of the process's
memory.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application

from infra.persistence import database_from_url
from infra.settings import Settings
from projections.bounded_store import BoundedReadModelStore
from projections.database import Database


class TemporaryView:
    """A scratch store in a temporary SQLite file, fed from ``source`` up to ``up_to``."""

    def __init__(self, source: Database, up_to: int, settings: Settings) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="complaints-view-"))
        try:
            url = f"sqlite:///{self.directory / 'view.db'}"
            scratch = settings.model_copy(update={"database_url": url, "create_tables": True})
            self.app: Application[UUID] = Application(env=database_from_url(url, scratch).env)
            self._store = BoundedReadModelStore(self.app, source, up_to)
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    @property
    def store(self) -> BoundedReadModelStore:
        return self._store

    def close(self) -> None:
        self.app.close()
        shutil.rmtree(self.directory, ignore_errors=True)
