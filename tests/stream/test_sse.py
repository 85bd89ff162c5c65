"""The SSE stream over a real socket: live delivery, heartbeats, reconnect with Last-Event-ID,
and its guards: the token re-checked, a maximum lifetime, connection caps, strict positions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from infra.bootstrap import bootstrap
from infra.settings import Settings
from stream.feed import read_page
from tests.intake import intake
from tests.poison import POISONS, store_poison
from tests.stream.live_server import live_server
from tests.stream.sse_client import Message, messages

MAX_MESSAGES = 40  # about 12 s of 0.3 s heartbeats
HEARTBEAT = 0.3
FAST = {"stream_heartbeat_seconds": HEARTBEAT, "stream_page_size": 4, "stream_poll_seconds": 0.05}


def serve(settings: Settings, **overrides: Any) -> AbstractContextManager[str]:
    return live_server(settings.model_copy(update={**FAST, **overrides}))


@pytest.fixture
def base_url(settings: Settings, app: ComplaintsApp) -> Iterator[str]:
    with serve(settings) as url:
        yield url


@pytest.fixture
def other_process(settings: Settings) -> Iterator[ComplaintsApp]:
    """A second application on the same store, as `complaints tokens revoke` would be."""
    with bootstrap(settings) as other:
        yield other.app


@pytest.fixture
def service_token(app: ComplaintsApp, ctx: CommandContext) -> str:
    """A consuming service's token: the role the permission table gives the stream."""
    return app.tokens.issue("feed", "service", ctx).secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_stream(
    base_url: str,
    token: str,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> AbstractContextManager[httpx.Response]:
    """``GET /events/stream``, as a consuming service opens it."""
    return httpx.stream(
        "GET", f"{base_url}/events/stream", params=params,
        headers=bearer(token) | (headers or {}), timeout=10,
    )


def public_positions(app: ComplaintsApp) -> list[int]:
    positions: list[int] = []
    after = 0
    while True:
        page = read_page(app, after=after, limit=100)
        positions += [e["position"] for e in page.events]
        if not page.more and page.next_cursor == after:
            return positions
        after = page.next_cursor


def rest_of_stream(stream: Iterator[Message]) -> list[Message]:
    """Everything until the server ends the stream (fails if it does not within ~12 s)."""
    rest: list[Message] = []
    for message in stream:
        rest.append(message)
        assert len(rest) <= MAX_MESSAGES, "the server did not end the stream"
    return rest


def write_complaints(app: ComplaintsApp, ctx: CommandContext, n: int) -> None:
    """``n`` complaints, each filed (with its SLA terms) and assigned: 3 events each."""
    for _ in range(n):
        cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
        app.handle(cid, AssignComplaint(assignee="bob"), ctx)


def next_events(stream: Iterator[Message], count: int) -> list[dict[str, Any]]:
    """The stream's next ``count`` events, each checked to carry its position as its id (fails
    if they do not come within ``MAX_MESSAGES`` messages)."""
    events: list[dict[str, Any]] = []
    for n, message in enumerate(stream):
        if message.data:
            events.append(json.loads(message.data))
            assert message.id == str(events[-1]["position"])
            if len(events) == count:
                return events
        assert n < MAX_MESSAGES, f"the stream sent {len(events)} of {count} events in time"
    raise AssertionError(f"the stream ended after {len(events)} of {count} events")


def test_the_stream_sends_every_event_with_its_position_as_id(
    base_url: str, app: ComplaintsApp, ctx: CommandContext, service_token: str
) -> None:
    write_complaints(app, ctx, 5)  # 15 events, more than one page of 4
    with open_stream(base_url, service_token, params={"after": 0}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = next_events(messages(response), 15)
    assert [e["position"] for e in received] == public_positions(app)


def test_reconnect_with_last_event_id_misses_and_repeats_nothing(
    base_url: str, app: ComplaintsApp, ctx: CommandContext, service_token: str
) -> None:
    write_complaints(app, ctx, 5)  # 15 events, more than one page of 4
    with httpx.Client(base_url=base_url, headers=bearer(service_token), timeout=10) as http:
        with http.stream("GET", "/events/stream", params={"after": 0}) as response:
            received = next_events(messages(response), 6)  # then disconnect mid-stream
        write_complaints(app, ctx, 3)  # while nobody listens
        # The original URL still says after=0: the header must win, as browsers resend both.
        last_id = str(received[-1]["position"])
        with http.stream(
            "GET", "/events/stream", params={"after": 0}, headers={"Last-Event-ID": last_id}
        ) as response:
            received += next_events(messages(response), 18)

    positions = [e["position"] for e in received]
    assert positions == public_positions(app) and len(set(positions)) == 24
    assert len({e["id"] for e in received}) == 24
    subjects: dict[str, list[int]] = {}
    for e in received:
        subjects.setdefault(e["subject"], []).append(e["aggregateversion"])
    assert list(subjects.values()) == [[1, 2, 3]] * 8


def test_a_caught_up_stream_pushes_new_events_live(
    base_url: str, app: ComplaintsApp, ctx: CommandContext, service_token: str
) -> None:
    write_complaints(app, ctx, 1)
    with open_stream(base_url, service_token) as response:
        stream = messages(response)
        next_events(stream, 3)
        assert next(stream).comment  # a heartbeat: caught up and idle
        writer = threading.Thread(target=write_complaints, args=(app, ctx, 1))
        writer.start()
        pushed = next_events(stream, 3)
        writer.join()
    assert [e["position"] for e in pushed] == public_positions(app)[3:]


def test_stream_rejects_a_bad_last_event_id(base_url: str, service_token: str) -> None:
    response = httpx.get(
        f"{base_url}/events/stream",
        headers={"Authorization": f"Bearer {service_token}", "Last-Event-ID": "abc"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"


def test_stream_accepts_the_largest_position_and_refuses_beyond_it(
    base_url: str, service_token: str
) -> None:
    with open_stream(
        base_url, service_token, headers={"Last-Event-ID": str(2**63 - 1)}
    ) as response:
        assert response.status_code == 200
    response = httpx.get(
        f"{base_url}/events/stream",
        headers={**bearer(service_token), "Last-Event-ID": str(2**63)},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"


# ---- the token is re-checked while streaming -----------------------------------------------


def test_revoking_the_token_ends_the_stream_before_the_next_event(
    base_url: str,
    app: ComplaintsApp,
    other_process: ComplaintsApp,
    ctx: CommandContext,
    service_token: str,
) -> None:
    write_complaints(app, ctx, 1)
    with open_stream(base_url, service_token) as response:
        stream = messages(response)
        next_events(stream, 3)
        # Revoked by another process (its cache is not ours), then more personal data arrives.
        other_process.tokens.revoke("feed", ctx)
        write_complaints(app, ctx, 1)
        rest = rest_of_stream(stream)
    assert [m for m in rest if m.data] == []
    assert rest[-1].comment and "revoked" in rest[-1].text
    assert httpx.get(f"{base_url}/events", headers=bearer(service_token)).status_code == 401


def test_an_idle_stream_ends_at_the_next_heartbeat_after_a_revocation(
    base_url: str, other_process: ComplaintsApp, ctx: CommandContext, service_token: str
) -> None:
    with open_stream(base_url, service_token) as response:
        stream = messages(response)
        assert next(stream).comment  # the first heartbeat: the stream is open and idle
        other_process.tokens.revoke("feed", ctx)
        revoked_at = time.monotonic()
        rest = rest_of_stream(stream)
        ended_after = time.monotonic() - revoked_at
    assert rest[-1].comment and "revoked" in rest[-1].text
    assert ended_after < 2 * HEARTBEAT + 1.0  # a heartbeat, not the lifetime (3600 s)


def test_the_stream_of_a_token_that_expires_ends(
    base_url: str, app: ComplaintsApp, ctx: CommandContext
) -> None:
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    issued = app.tokens.issue("temp", "service", ctx, expires_at=expires_at)
    write_complaints(app, ctx, 1)
    with open_stream(base_url, issued.secret) as response:
        assert response.status_code == 200
        stream = messages(response)
        rest = rest_of_stream(stream)
        ended_at = datetime.now(UTC)
    assert len([m for m in rest if m.data]) == 3  # delivered while the token was valid
    assert rest[-1].comment and "expired" in rest[-1].text
    assert expires_at <= ended_at < expires_at + timedelta(seconds=2 * HEARTBEAT + 1.0)


# ---- maximum lifetime ----------------------------------------------------------------------


def test_streams_end_at_their_maximum_lifetime_and_resume_without_gaps(
    settings: Settings, app: ComplaintsApp, ctx: CommandContext, service_token: str
) -> None:
    lifetime = 0.5
    write_complaints(app, ctx, 3)

    def keep_writing() -> None:  # for about 1.5 s: three lifetimes
        for _ in range(12):
            write_complaints(app, ctx, 1)
            time.sleep(0.12)

    writer = threading.Thread(target=keep_writing)
    received: list[dict[str, Any]] = []
    connections = 0
    with serve(settings, stream_max_lifetime_seconds=lifetime) as url:
        writer.start()
        last_id: str | None = None
        while connections < 20 and (writer.is_alive() or not received or (
            received[-1]["position"] < public_positions(app)[-1]
        )):
            resume = {"Last-Event-ID": last_id} if last_id else {}
            opened = time.monotonic()
            with open_stream(url, service_token, headers=resume) as response:
                assert response.status_code == 200
                rest = rest_of_stream(messages(response))
            connections += 1
            assert lifetime <= time.monotonic() - opened < lifetime + 1.0
            assert rest[-1].comment and "lifetime" in rest[-1].text
            for message in rest:
                if message.data:
                    received.append(json.loads(message.data))
                    last_id = message.id
        writer.join()
    positions = [e["position"] for e in received]
    assert positions == public_positions(app)  # every event once, in order, across connections
    assert len(positions) == 45 and connections >= 3


# ---- connection caps -----------------------------------------------------------------------


def test_past_the_per_token_cap_a_stream_gets_429_with_retry_after(
    settings: Settings, app: ComplaintsApp, service_token: str
) -> None:
    with serve(settings, stream_max_connections_per_token=2) as url, httpx.Client(
        base_url=url, headers=bearer(service_token), timeout=10
    ) as http:
        with http.stream("GET", "/events/stream") as first, http.stream(
            "GET", "/events/stream"
        ) as second:
            assert first.status_code == second.status_code == 200
            refused = http.get("/events/stream")
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["retry-after"] == "1"  # the heartbeat, rounded up
            assert "2 open event streams" in refused.json()["detail"]
        # Both clients left: their slots are free again.
        assert_stream_opens(http)


def test_past_the_total_cap_a_stream_gets_429_whoever_asks(
    settings: Settings, app: ComplaintsApp, ctx: CommandContext, service_token: str
) -> None:
    other = app.tokens.issue("bob", "service", ctx).secret
    with serve(settings, stream_max_connections=1) as url:
        with open_stream(url, service_token) as first:
            assert first.status_code == 200
            refused = httpx.get(f"{url}/events/stream", headers=bearer(other), timeout=10)
            assert refused.status_code == 429 and "retry-after" in refused.headers


def test_a_stream_that_ends_frees_its_slot(
    settings: Settings, app: ComplaintsApp, service_token: str
) -> None:
    with serve(
        settings, stream_max_connections_per_token=1, stream_max_lifetime_seconds=0.3
    ) as url, httpx.Client(base_url=url, headers=bearer(service_token), timeout=10) as http:
        for _ in range(3):  # each ends at its lifetime; the next may open at once
            with http.stream("GET", "/events/stream") as response:
                assert response.status_code == 200
                rest_of_stream(messages(response))


def assert_stream_opens(http: httpx.Client) -> None:
    # The server learns of the disconnect asynchronously: allow it a moment.
    deadline = time.monotonic() + 3
    while True:
        with http.stream("GET", "/events/stream") as response:
            if response.status_code == 200:
                return
        assert time.monotonic() < deadline, "the slot was not released"
        time.sleep(0.05)


# ---- strict positions and parameters (TestClient: refused before any streaming) ------------


@pytest.mark.parametrize(
    "value",
    ["²".encode(), "١٢".encode(), b"-1", b"1.0", b"0x10", b"", b"1 2", str(2**63).encode()],
)
def test_last_event_id_must_be_an_ascii_position(client: TestClient, value: bytes) -> None:
    response = client.get("/events/stream", headers={"Last-Event-ID": value})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"


SHARED_PARAMETERS: list[tuple[dict[str, str], str]] = [
    ({"after": str(2**63)}, "after"),
    ({"after": "10" * 20}, "after"),
    ({"after": "-1"}, "after"),
    ({"after": "²"}, "after"),
    ({"types": "complaint.filed\x00"}, "types"),
    ({"types": "\x00"}, "types"),
    ({"aggregate_id": "8d7f4b8e-5a0e-4f6b-9a3e-1f2c3d4e5f60\x00"}, "aggregate_id"),
]
PAGE_PARAMETERS: list[tuple[dict[str, str], str]] = [
    ({"limit": str(2**63)}, "limit"),
    ({"limit": "١٢"}, "limit"),
]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [("/events", *case) for case in SHARED_PARAMETERS + PAGE_PARAMETERS]
    + [("/events/stream", *case) for case in SHARED_PARAMETERS],
)
def test_feed_parameters_are_refused_with_422_naming_them(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_the_largest_position_reads_an_empty_page(client: TestClient) -> None:
    response = client.get("/events", params={"after": str(2**63 - 1)})
    assert response.status_code == 200
    assert response.json() == {"events": [], "next_cursor": 2**63 - 1}


# ---- events stored before intake refused such values ---------------------------------------


def test_the_stream_delivers_past_events_that_intake_now_refuses(
    base_url: str, app: ComplaintsApp, ctx: CommandContext, service_token: str
) -> None:
    for poison in POISONS.values():
        store_poison(app, **poison)
    write_complaints(app, ctx, 1)
    expected = public_positions(app)
    received: list[int] = []
    with open_stream(base_url, service_token) as response:
        for n, message in enumerate(messages(response)):
            if message.data:
                received.append(json.loads(message.data)["position"])
            if received == expected or n > MAX_MESSAGES:
                break
    assert received == expected and len(expected) == len(POISONS) + 3
