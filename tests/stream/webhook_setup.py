"""Helpers shared by the webhook hardening tests: settings, an admin client, a running worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from infra.bootstrap import bootstrap, delivery_policy
from infra.secrets import secret_box
from infra.settings import Settings
from stream.webhook_store import WebhookStore
from stream.webhooks import WebhookWorker
from tests.intake import intake
from tests.waiting import eventually

SECRET = "s3cret-s3cret-s3cret"
LOOPBACK = ["127.0.0.1/32"]


def webhook_settings(settings: Settings, **overrides: Any) -> Settings:
    """Fast retries; loopback allowed (the local receivers listen there) unless overridden."""
    return settings.model_copy(
        update={
            "webhook_retry_base_seconds": 0.1,
            "webhook_retry_max_seconds": 1.0,
            "webhook_max_failures": 3,
            "webhook_timeout_seconds": 2.0,
            "stream_poll_seconds": 0.05,
            "webhook_allowed_networks": LOOPBACK,
            **overrides,
        }
    )


@contextmanager
def admin_client(settings: Settings, admin_token: str) -> Iterator[TestClient]:
    with bootstrap(settings) as services, TestClient(create_app(services)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


@contextmanager
def running_worker(app: ComplaintsApp, settings: Settings) -> Iterator[WebhookWorker]:
    store = WebhookStore(app, secret_box(settings))
    store.migrate()  # as the worker's process does when it starts (infra/bootstrap.py)
    worker = WebhookWorker(app, delivery_policy(settings), store).start()
    try:
        yield worker
    finally:
        worker.stop()


def subscribe(admin: TestClient, url: str, **extra: Any) -> dict[str, Any]:
    response = admin.post("/subscriptions", json={"url": url, "secret": SECRET, **extra})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def deliveries(admin: TestClient, subscription_id: str) -> list[dict[str, Any]]:
    """Oldest first."""
    return list(reversed(admin.get(f"/subscriptions/{subscription_id}/deliveries").json()))


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    assert eventually(predicate, timeout), "condition not reached in time"


def file_and_assign(app: ComplaintsApp, ctx: CommandContext) -> None:
    cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    app.handle(cid, AssignComplaint(assignee="bob"), ctx)
