"""Webhooks cannot be pointed inside the network (SSRF), on SQLite and PostgreSQL: refused at
subscription time, refused again on the resolved address at connect time (DNS rebinding), no
redirects, no credentials in URLs anywhere, and a delivery log that is no port scanner."""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from infra.secrets import secret_box
from infra.settings import Settings
from stream.delivery_errors import (
    CONNECTION_FAILED,
    FORBIDDEN_ADDRESS,
    HTTP_STATUS,
    TIMEOUT,
    TLS_ERROR,
)
from stream.feed import head
from stream.store_tables import StoreTables
from stream.webhook_store import Delivery, WebhookStore
from tests.stream.receiver import Receiver, receiver
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
from tests.unit.test_webhook_targets import INTERNAL_URLS


@pytest.fixture
def strict(settings: Settings) -> Settings:
    """Default policy: nothing internal allowed."""
    return webhook_settings(settings, webhook_allowed_networks=[])


@pytest.fixture
def loopback(settings: Settings) -> Settings:
    return webhook_settings(settings)


def stored_subscription(app: ComplaintsApp, settings: Settings, url: str) -> str:
    """A subscription as an older version (or a direct database write) left it: unchecked."""
    store = WebhookStore(app, secret_box(settings))
    return store.add(url=url, types=[], secret=SECRET, position=head(app), created_by="old").id


def test_internal_targets_are_refused_when_subscribing(
    strict: Settings, app: ComplaintsApp, admin_token: str
) -> None:
    with admin_client(strict, admin_token) as admin:
        for url in INTERNAL_URLS:
            response = admin.post("/subscriptions", json={"url": url, "secret": SECRET})
            assert response.status_code == 422, (url, response.text)
            problem = response.json()
            assert problem["errors"][0]["field"] == "url"
            assert "may not target" in problem["errors"][0]["reason"]
        assert admin.get("/subscriptions").json() == []


def test_credentials_in_the_url_are_refused(
    loopback: Settings, app: ComplaintsApp, admin_token: str, hook: Receiver
) -> None:
    with admin_client(loopback, admin_token) as admin:
        url = hook.url.replace("http://", "http://user:hunter2@")
        response = admin.post("/subscriptions", json={"url": url, "secret": SECRET})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "url"
        assert "hunter2" not in response.text
        assert admin.get("/subscriptions").json() == []


def test_a_stored_internal_target_is_refused_at_connect_time(
    strict: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str, hook: Receiver
) -> None:
    sub = stored_subscription(app, strict, hook.url)
    file_and_assign(app, ctx)
    with admin_client(strict, admin_token) as admin, running_worker(app, strict):
        wait_until(lambda: deliveries(admin, sub))
        first = deliveries(admin, sub)[0]
    assert first["error"] == FORBIDDEN_ADDRESS and not first["succeeded"]
    assert first["status_code"] is None
    assert hook.requests == []


def test_a_name_rebound_to_loopback_after_subscribing_is_refused(
    strict: Settings,
    app: ComplaintsApp,
    ctx: CommandContext,
    admin_token: str,
    hook: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DNS rebinding: the name is public when the subscription is checked, loopback at delivery.
    answer = {"address": "93.184.216.34"}
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    lock = threading.Lock()

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        with lock:
            lookups.append(answer["address"])
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    port = hook.url.split(":")[2].split("/")[0]
    with admin_client(strict, admin_token) as admin:
        sub = subscribe(admin, f"http://rebind.test:{port}/hook")["id"]
        assert lookups == ["93.184.216.34"]
        answer["address"] = "127.0.0.1"
        file_and_assign(app, ctx)
        with running_worker(app, strict):
            wait_until(lambda: deliveries(admin, sub))
        first = deliveries(admin, sub)[0]
    assert first["error"] == FORBIDDEN_ADDRESS
    assert "127.0.0.1" in lookups[1:]
    assert hook.requests == []  # the receiver on loopback was never reached


def test_redirects_are_not_followed(
    loopback: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str
) -> None:
    with receiver() as inside, receiver() as outside, admin_client(
        loopback, admin_token
    ) as admin:
        outside.redirect_to = inside.url
        sub = subscribe(admin, outside.url)["id"]
        file_and_assign(app, ctx)
        with running_worker(app, loopback):
            wait_until(lambda: deliveries(admin, sub))
        first = deliveries(admin, sub)[0]
        assert first["error"] == HTTP_STATUS and first["status_code"] == 307
        assert inside.requests == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def garbage_server() -> Iterator[int]:
    """An open port that is no HTTP server: answers one line of noise, then hangs up."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        server.close()
        thread.join(timeout=2)


def test_the_delivery_log_does_not_tell_an_open_port_from_a_closed_one(
    loopback: Settings,
    app: ComplaintsApp,
    ctx: CommandContext,
    admin_token: str,
    garbage_server: int,
) -> None:
    with admin_client(loopback, admin_token) as admin:
        closed = subscribe(admin, f"http://127.0.0.1:{closed_port()}/x")["id"]
        open_ = subscribe(admin, f"http://127.0.0.1:{garbage_server}/x")["id"]
        file_and_assign(app, ctx)
        with running_worker(app, loopback):
            wait_until(lambda: deliveries(admin, closed) and deliveries(admin, open_))
        logged = [deliveries(admin, closed)[0], deliveries(admin, open_)[0]]
        states = [admin.get(f"/subscriptions/{s}").json() for s in (closed, open_)]
    assert [d["error"] for d in logged] == [CONNECTION_FAILED, CONNECTION_FAILED]
    assert [d["status_code"] for d in logged] == [None, None]
    assert [s["last_error"] for s in states] == [CONNECTION_FAILED, CONNECTION_FAILED]


def test_credentials_in_an_older_url_never_leave_the_server(
    loopback: Settings,
    app: ComplaintsApp,
    ctx: CommandContext,
    admin_token: str,
    hook: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sub = stored_subscription(app, loopback, hook.url.replace("http://", "http://u:hunter2@"))
    hook.always_fail = True
    file_and_assign(app, ctx)
    caplog.set_level(logging.INFO)
    with admin_client(loopback, admin_token) as admin:
        with running_worker(app, loopback):
            wait_until(lambda: deliveries(admin, sub))
        answers = [
            admin.get("/subscriptions"), admin.get(f"/subscriptions/{sub}"),
            admin.get(f"/subscriptions/{sub}/deliveries"),
        ]
    assert answers[1].json()["url"] == hook.url
    for answer in answers:
        assert answer.status_code == 200 and "hunter2" not in answer.text
    # Still delivered, as Basic auth (as before): only every display of it is redacted.
    assert hook.requests[0].headers["Authorization"] == "Basic dTpodW50ZXIy"  # u:hunter2
    assert "hunter2" not in caplog.text
    assert "failed" in caplog.text  # the failure was logged, without the password


def test_a_failed_tls_handshake_is_its_own_class(
    loopback: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str, hook: Receiver
) -> None:
    with admin_client(loopback, admin_token) as admin:
        sub = subscribe(admin, hook.url.replace("http://", "https://"))["id"]  # plain HTTP there
        file_and_assign(app, ctx)
        with running_worker(app, loopback):
            wait_until(lambda: deliveries(admin, sub))
        first = deliveries(admin, sub)[0]
    assert first["error"] == TLS_ERROR and first["status_code"] is None


def test_exception_texts_logged_by_older_versions_are_reduced_to_classes_on_start(
    loopback: Settings, app: ComplaintsApp, admin_token: str
) -> None:
    store = WebhookStore(app, secret_box(loopback))
    sub = store.add(url="http://192.0.2.1/", types=[], secret=SECRET, position=0, created_by="x")
    legacy = {
        "ConnectError: [Errno 111] Connection refused": CONNECTION_FAILED,
        "ConnectTimeout: timed out connecting to 10.0.0.5:6379": TIMEOUT,
        "HTTP 404": HTTP_STATUS,
        "ReadError: [Errno 104] Connection reset by peer": CONNECTION_FAILED,
    }
    for n, text in enumerate(legacy):
        store.record_failure(
            Delivery(
                id=str(uuid.uuid4()), subscription_id=sub.id, event_id=str(uuid.uuid4()),
                position=1, event_type="complaint.filed", attempt=n + 1, manual=False,
                succeeded=False, status_code=None, error=text, duration_ms=1.0,
                attempted_at=1_700_000_000.0 + n,
            ),
            failures=n + 1, next_attempt_at=0.0, pause=False,
        )
    tables = StoreTables(app, "webhook_subscriptions")
    with tables.cursor(commit=False) as cursor:
        cursor.execute(tables.sql("SELECT last_error FROM {webhook_subscriptions}"))
        assert cursor.fetchone()["last_error"].startswith("ReadError")

    WebhookStore(app, secret_box(loopback)).migrate()

    with admin_client(loopback, admin_token) as admin:
        logged = deliveries(admin, sub.id)
        state = admin.get(f"/subscriptions/{sub.id}").json()
    assert [d["error"] for d in logged] == list(legacy.values())
    assert state["last_error"] == CONNECTION_FAILED
