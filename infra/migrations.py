"""Create every table the service needs, once, before any worker process starts.

The library creates its own tables when an application is built (``CREATE_TABLE``), and read models
and webhook state create theirs with ``IF NOT EXISTS``. Run concurrently, PostgreSQL's DDL can fail
("tuple concurrently updated"), so ``serve --workers N`` runs this first and starts its workers with
``COMPLAINTS_CREATE_TABLES=false``.
"""

from __future__ import annotations

from infra.secrets import secret_box
from infra.settings import Settings
from infra.wiring import build_app
from projections.registry import REGISTERED
from projections.store import ReadModelStore
from stream.webhook_store import WebhookStore


def create_tables(settings: Settings) -> None:
    app = build_app(settings.model_copy(update={"create_tables": True}))
    try:
        ReadModelStore(app).create_tables([t for cls in REGISTERED for t in cls.tables])
        WebhookStore(app, secret_box(settings), migrate=True)  # seals plaintext secrets
    finally:
        app.close()
