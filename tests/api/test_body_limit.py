"""The body limit counts what is received: chunked bodies and lying Content-Lengths get 413."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from infra.settings import Settings
from tests.intake import intake
from tests.stream.live_server import live_server

CHUNK = 64 * 1024


def head(app: ComplaintsApp) -> int:
    return app.recorder.max_notification_id() or 0


def oversized_intake(settings: Settings) -> bytes:
    """A valid intake, except that it is larger than the limit (a long JSON string)."""
    body = intake()
    body["attachments"] = []
    body["padding_that_would_be_refused_anyway"] = "x" * (settings.max_body_bytes + CHUNK)
    return json.dumps(body).encode()


def chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def assert_too_large(response: httpx.Response, settings: Settings) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/too-large") and problem["status"] == 413
    assert str(settings.max_body_bytes) in problem["detail"]


@pytest.fixture
def base_url(settings: Settings, app: ComplaintsApp) -> Iterator[str]:
    with live_server(settings) as url:
        yield url


def test_a_chunked_body_over_the_limit_gets_413_from_a_real_server(
    base_url: str, app: ComplaintsApp, settings: Settings, agent_token: str
) -> None:
    before = head(app)
    # 20 MB offered, as in the review; the server stops reading after the first megabyte.
    twenty_megabytes = (b"x" * CHUNK for _ in range(20 * 1024 * 1024 // CHUNK))
    response = httpx.post(
        f"{base_url}/complaints",
        content=twenty_megabytes,
        headers={"Authorization": f"Bearer {agent_token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert_too_large(response, settings)
    assert head(app) == before


def test_a_chunked_intake_under_the_limit_is_filed_by_a_real_server(
    base_url: str, agent_token: str
) -> None:
    body = json.dumps(intake()).encode()
    response = httpx.post(
        f"{base_url}/complaints",
        content=chunks(body),
        headers={"Authorization": f"Bearer {agent_token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 201, response.text


# How an oversized body can slip past a check of the declared length alone.
UNDECLARED: dict[str, Callable[[bytes], tuple[bytes | Iterator[bytes], dict[str, str]]]] = {
    "chunked": lambda body: (chunks(body), {}),
    "longer-than-its-content-length": lambda body: (body, {"Content-Length": "100"}),
}


@pytest.mark.parametrize("sent_as", sorted(UNDECLARED))
def test_a_body_over_the_limit_gets_413_however_it_is_sent(
    client: TestClient, app: ComplaintsApp, settings: Settings, sent_as: str
) -> None:
    before = head(app)
    content, headers = UNDECLARED[sent_as](oversized_intake(settings))
    response = client.post(
        "/complaints", content=content, headers={"Content-Type": "application/json", **headers}
    )
    assert_too_large(response, settings)
    assert head(app) == before  # stores nothing


@pytest.mark.parametrize("length", [b"2000000", b"1e6", "١٠".encode(), "²".encode(), b"-1"])
def test_a_declared_length_over_the_limit_or_malformed_gets_413_unread(
    client: TestClient, settings: Settings, length: bytes
) -> None:
    response = client.post(
        "/complaints",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": length},
    )
    assert_too_large(response, settings)


def test_the_limit_is_a_setting(settings: Settings, app: ComplaintsApp, agent_token: str) -> None:
    from api.app import create_app
    from infra.bootstrap import bootstrap

    small = settings.model_copy(update={"max_body_bytes": 2048})
    with bootstrap(small) as services, TestClient(create_app(services)) as client:
        client.headers["Authorization"] = f"Bearer {agent_token}"
        body = json.dumps(intake(description="y" * 3000)).encode()
        response = client.post(
            "/complaints", content=chunks(body), headers={"Content-Type": "application/json"}
        )
    assert_too_large(response, small)
