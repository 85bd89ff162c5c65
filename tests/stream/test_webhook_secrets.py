"""Webhook signing secrets are stored sealed, on SQLite and PostgreSQL: never in clear in the
database, older plaintext rows sealed on start, and a wrong key sends nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eventsourcing.cryptography import AESCipher
from pydantic import SecretStr

from commands.application import ComplaintsApp
from commands.context import CommandContext
from infra.secrets import secret_box
from infra.settings import Settings
from stream.delivery_errors import SECRET_UNAVAILABLE
from stream.store_tables import StoreTables
from stream.webhook_signature import verify
from stream.webhook_store import WebhookStore
from tests.stream.receiver import Receiver
from tests.stream.webhook_setup import (
    SECRET,
    admin_client,
    deliveries,
    file_and_assign,
    running_worker,
    subscribe,
    wait_until,
    webhook_settings,
)


@pytest.fixture
def keyed(settings: Settings, tmp_path: Path) -> Settings:
    """Each test its own key file (the PostgreSQL default would be ./var/secret.key)."""
    return webhook_settings(settings, secret_key_file=str(tmp_path / "secret.key"))


def stored_secrets(app: ComplaintsApp) -> list[str]:
    tables = StoreTables(app, "webhook_subscriptions")
    with tables.cursor(commit=False) as cursor:
        cursor.execute(tables.sql("SELECT secret FROM {webhook_subscriptions}"))
        return [row["secret"] for row in cursor.fetchall()]


def test_the_database_never_holds_the_secret_in_clear(
    keyed: Settings, app: ComplaintsApp, admin_token: str, hook: Receiver
) -> None:
    with admin_client(keyed, admin_token) as admin:
        sub = subscribe(admin, hook.url)
        assert SECRET not in json.dumps(sub)
    [stored] = stored_secrets(app)
    assert stored.startswith("enc:v1:") and SECRET not in stored
    if keyed.database_url.startswith("sqlite"):
        db = Path(keyed.database_url.removeprefix("sqlite:///"))
        for path in [db, db.with_name(db.name + "-wal")]:
            if path.exists():
                assert SECRET.encode() not in path.read_bytes(), path


def test_plaintext_secrets_of_older_rows_are_sealed_on_start_and_still_sign(
    keyed: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str, hook: Receiver
) -> None:
    # A row as the previous version wrote it: the secret in plain text.
    store = WebhookStore(app, secret_box(keyed))
    sub = store.add(url=hook.url, types=[], secret=SECRET, position=0, created_by="old")
    tables = StoreTables(app, "webhook_subscriptions")
    with tables.cursor(commit=True) as cursor:
        cursor.execute(
            tables.sql("UPDATE {webhook_subscriptions} SET secret = %s WHERE id = %s"),
            (SECRET, sub.id),
        )
    assert stored_secrets(app) == [SECRET]

    WebhookStore(app, secret_box(keyed)).migrate()  # what starting the service does
    [stored] = stored_secrets(app)
    assert stored.startswith("enc:v1:") and SECRET not in stored

    file_and_assign(app, ctx)
    with running_worker(app, keyed):
        hook.wait_for(lambda: len(hook.accepted()) == 3)
    for request in hook.accepted():
        assert verify(
            SECRET, request.headers["Complaints-Webhook-Timestamp"],
            request.headers["Complaints-Webhook-Signature"], request.body,
        )


def test_a_worker_with_another_key_sends_nothing(
    keyed: Settings,
    app: ComplaintsApp,
    ctx: CommandContext,
    admin_token: str,
    hook: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other_key = keyed.model_copy(update={"secret_key": SecretStr(AESCipher.create_key(32))})
    with admin_client(keyed, admin_token) as admin:
        sub = subscribe(admin, hook.url)["id"]
        file_and_assign(app, ctx)
        with running_worker(app, other_key):
            wait_until(lambda: deliveries(admin, sub))
        first = deliveries(admin, sub)[0]
    assert first["error"] == SECRET_UNAVAILABLE and first["status_code"] is None
    assert hook.requests == []
    assert "another key" in caplog.text  # said when the worker's process started
