"""The SSE stream over a real socket: live delivery, heartbeats, reconnect with Last-Event-ID."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from infra.settings import Settings
from tests.intake import intake
from tests.stream.live_server import live_server
from tests.stream.sse_client import messages

MAX_MESSAGES = 40  # about 12 s of 0.3 s heartbeats


@pytest.fixture
def base_url(settings: Settings, app: ComplaintsApp) -> Iterator[str]:
    fast = settings.model_copy(
        update={"stream_heartbeat_seconds": 0.3, "stream_page_size": 4, "stream_poll_seconds": 0.05}
    )
    with live_server(fast, app) as url:
        yield url


def write_complaints(app: ComplaintsApp, ctx: CommandContext, n: int) -> None:
    for _ in range(n):
        cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
        app.assign(cid, AssignComplaint(assignee="bob"), ctx)


def test_reconnect_with_last_event_id_misses_and_repeats_nothing(
    base_url: str, app: ComplaintsApp, ctx: CommandContext, agent_token: str
) -> None:
    headers = {"Authorization": f"Bearer {agent_token}"}
    write_complaints(app, ctx, 5)  # 10 events, more than one page of 4
    received: list[dict[str, Any]] = []
    timeout = httpx.Timeout(10.0)
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as http:
        with http.stream("GET", "/events/stream", params={"after": 0}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for n, message in enumerate(messages(response)):
                if message.data:
                    received.append(json.loads(message.data))
                    assert message.id == str(received[-1]["position"])
                if len(received) == 6 or n > MAX_MESSAGES:
                    break  # disconnect mid-stream
        last_id = received[-1]["position"]

        # While nobody listens, more is written.
        write_complaints(app, ctx, 3)
        heartbeats = 0
        # The original URL still says after=0: the header must win, as browsers resend both.
        with http.stream(
            "GET", "/events/stream", params={"after": 0}, headers={"Last-Event-ID": str(last_id)}
        ) as response:
            live_written = False
            for message in messages(response):
                if message.comment:
                    heartbeats += 1
                    if heartbeats > MAX_MESSAGES:
                        break  # heartbeats keep the read alive: give up rather than hang
                    if not live_written and len(received) == 16:
                        # Caught up and idle: now a live event must be pushed to us.
                        threading.Thread(target=write_complaints, args=(app, ctx, 1)).start()
                        live_written = True
                    continue
                if message.data:
                    received.append(json.loads(message.data))
                if len(received) == 18:
                    break

    positions = [e["position"] for e in received]
    assert positions == sorted(positions) and len(set(positions)) == 18
    assert len({e["id"] for e in received}) == 18
    assert heartbeats >= 1
    subjects: dict[str, list[int]] = {}
    for e in received:
        subjects.setdefault(e["subject"], []).append(e["aggregateversion"])
    assert list(subjects.values()) == [[1, 2]] * 9


def test_stream_rejects_a_bad_last_event_id(base_url: str, agent_token: str) -> None:
    response = httpx.get(
        f"{base_url}/events/stream",
        headers={"Authorization": f"Bearer {agent_token}", "Last-Event-ID": "abc"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"
