"""Issue 14's logs: with ``COMPLAINTS_LOG_FORMAT=json`` every line a real ``complaints serve``
writes is one JSON object, each request's lines carry its request id, and a full scenario
(a filing with a customer's name, phone and email, a comment, a close, tokens issued, a webhook
secret, a search by name in a query string) leaves none of those values in the log."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from commands.context import CommandContext
from infra.bootstrap import bootstrap
from infra.logs import JsonLines, RequestFields, TextLines, current_request
from infra.settings import Settings
from tests.api.server_process import ServerProcess, environment, wait_until_up
from tests.intake import intake
from tests.stream.live_server import free_port

NAME = "Quennell Brightwater"
PHONE = "13912345678"
EMAIL = "q.brightwater@example.org"
COMMENT = "Spoke with Quennell about the refund"
SUMMARY = "Replaced the handset for the customer"
WEBHOOK_SECRET = "whsec-7f3a9c1e5b2d4a6f8e0c"


@contextmanager
def json_logging_server(
    settings: Settings, directory: Path
) -> Iterator[tuple[ServerProcess, Path]]:
    port = free_port()
    stderr = directory / f"serve-{port}.jsonl"
    env = environment(settings) | {
        "COMPLAINTS_LOG_FORMAT": "json",
        "COMPLAINTS_LOG_LEVEL": "info",
        "COMPLAINTS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve",
               "--host", "127.0.0.1", "--port", str(port), "--no-projections"]
    with stderr.open("wb") as err, (directory / "serve.out").open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=directory, stdout=out, stderr=err)
    server = ServerProcess(process, f"http://127.0.0.1:{port}", stderr)
    try:
        wait_until_up(server)
        yield server, stderr
    finally:
        process.terminate()
        process.wait(timeout=30)


def admin_token(settings: Settings) -> str:
    ctx = CommandContext(principal="setup", role="admin", correlation_id="logs")
    with bootstrap(settings) as services:
        return services.app.tokens.issue("ops-admin", "admin", ctx).secret


def scenario(url: str, admin: str) -> tuple[list[str], list[str]]:
    """Runs the scenario; returns the request ids answered and the secrets the server issued."""
    answers: list[httpx.Response] = []

    def call(
        token: str, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        response = httpx.request(
            method, url + path, headers={"Authorization": f"Bearer {token}", **(headers or {})},
            timeout=10, **kwargs,
        )
        answers.append(response)
        return response

    issued = [
        call(admin, "POST", "/tokens", json={"name": name, "role": role, "teams": ["east"]})
        for name, role in (("agent-1", "agent"), ("supervisor-1", "supervisor"))
    ]
    agent, supervisor = (r.json()["secret"] for r in issued)
    hook = {"url": "http://127.0.0.1:9/hook", "types": [], "secret": WEBHOOK_SECRET}
    assert call(admin, "POST", "/subscriptions", json=hook).status_code == 201
    customer = {"id": "CUST-77", "name": NAME, "phone": PHONE, "email": EMAIL, "tier": "vip"}
    filed = call(agent, "POST", "/complaints", json=intake(customer=customer))
    assert filed.status_code == 201, filed.text
    complaint = f"/complaints/{filed.json()['id']}"
    comment = {"body": COMMENT, "visibility": "internal"}
    ids = {"X-Request-ID": "client-request-42", "X-Correlation-ID": "client-flow-42"}
    assert call(agent, "POST", f"{complaint}/comments", ids, json=comment).is_success
    closing = {"resolution_code": "resolved", "summary": SUMMARY}
    assert call(supervisor, "POST", f"{complaint}/close", json=closing).is_success
    assert call(supervisor, "GET", "/complaints", params={"q": NAME}).status_code == 200
    assert call(agent, "GET", complaint).status_code == 200
    bad = intake(customer=customer | {"email": "not an email " + EMAIL})
    assert call(agent, "POST", "/complaints", json=bad).status_code == 422
    assert call("wrong-" + agent, "GET", complaint).status_code == 401
    return [r.headers["X-Request-ID"] for r in answers], [agent, supervisor]


def test_json_logs_parse_carry_the_request_id_and_hold_no_personal_data_or_secret(
    settings: Settings, tmp_path: Path
) -> None:
    admin = admin_token(settings)
    with json_logging_server(settings, tmp_path) as (server, log_file):
        request_ids, secrets = scenario(server.url, admin)
    text = log_file.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]  # every line parses

    access = [line for line in lines if line["logger"] == "complaints.access"]
    answered = [line["request_id"] for line in access if line["route"] != "/health"]
    assert answered == request_ids and "client-request-42" in request_ids
    sent = next(line for line in access if line["request_id"] == "client-request-42")
    assert sent["correlation_id"] == "client-flow-42"
    assert all({"timestamp", "level", "message", "correlation_id", "duration_ms"} <= line.keys()
               for line in access)
    routes = {line["route"] for line in access}
    assert {"/tokens", "/complaints", "/complaints/{complaint_id}"} <= routes
    assert {line["principal"] for line in access if "principal" in line} == {
        "ops-admin", "agent-1", "supervisor-1"
    }
    assert {line["status"] for line in access} >= {200, 201, 401, 422}
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's lines too
    for value in (NAME, PHONE, EMAIL, COMMENT, SUMMARY, WEBHOOK_SECRET, admin, *secrets,
                  "Quennell", "q=", "?"):
        assert value not in text


def test_lines_written_during_a_request_carry_its_fields() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "went %s", ("wrong",), None)
    fields = RequestFields("req-1", "corr-1", "GET", route="/complaints", principal="alice")
    token = current_request.set(fields)
    try:
        line = json.loads(JsonLines().format(record))
        text = TextLines().format(record)
    finally:
        current_request.reset(token)
    assert line | {"timestamp": "t"} == {
        "timestamp": "t", "level": "warning", "logger": "x", "message": "went wrong",
        "request_id": "req-1", "correlation_id": "corr-1", "method": "GET",
        "route": "/complaints", "principal": "alice",
    }
    assert text.endswith("x: went wrong [request_id=req-1 correlation_id=corr-1 method=GET "
                         "route=/complaints principal=alice]")


@pytest.fixture(autouse=True)
def _no_inherited_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COMPLAINTS_LOG_FORMAT", "COMPLAINTS_LOG_LEVEL"):
        if name in os.environ:
            monkeypatch.delenv(name)
