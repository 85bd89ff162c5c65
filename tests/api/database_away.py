"""A store that goes away and comes back, for the readiness and metrics tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from infra.bootstrap import Services
from tests.conftest import POSTGRES_URL


@contextmanager
def database_away(services: Services) -> Iterator[None]:
    """The store's tables unreachable, then back: SQLite's events table renamed (open
    connections see it at once, unlike a moved file), PostgreSQL's schema renamed."""
    url = services.settings.database_url
    if url.startswith("sqlite"):
        table = services.app.recorder.events_table_name  # type: ignore[attr-defined]
        with sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None) as db:
            db.execute(f"ALTER TABLE {table} RENAME TO away")
            try:
                yield
            finally:
                db.execute(f"ALTER TABLE away RENAME TO {table}")
        return
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        db.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_away"')
        try:
            yield
        finally:
            db.execute(f'ALTER SCHEMA "{schema}_away" RENAME TO "{schema}"')
