"""The NATS JetStream relay, against the local NATS server: crash after K publishes, restart,
and the stream holds every event exactly once, in position order."""

from __future__ import annotations

import asyncio
import json
import time

import nats
import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from infra.bootstrap import relay_options
from infra.settings import Settings
from stream.feed import read_page
from stream.relay import NatsRelay
from tests.intake import intake
from tests.stream.jetstream import stored_messages


class Crash(Exception):
    """Raised when the relay is killed mid-way."""


async def stream_messages(
    url: str, stream: str, prefix: str
) -> list[tuple[str, dict[str, object]]]:
    found = await stored_messages(url, stream)
    # The relay's stream de-duplicates on Nats-Msg-Id: a republished event is dropped.
    last_id, last_event = found[-1]
    nc = await nats.connect(url)
    try:
        again = await nc.jetstream().publish(
            f"{prefix}.{last_event['type']}", json.dumps(last_event).encode(), stream=stream,
            headers={"Nats-Msg-Id": last_id},
        )
    finally:
        await nc.close()
    assert again.duplicate
    return found


def test_relay_killed_after_k_publishes_restarts_without_duplicates(
    app: ComplaintsApp, ctx: CommandContext, relay_settings: Settings, nats_url: str
) -> None:
    for _ in range(20):
        cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
        app.handle(cid, AssignComplaint(assignee="bob"), ctx)
    expected = read_page(app, after=0, limit=1000).events
    assert len(expected) == 60  # filed, SLA applied, assigned
    k = 17

    def kill_after_k(published: int) -> None:
        if published == k:
            raise Crash

    options = relay_options(relay_settings)
    first = NatsRelay(app, options, url=nats_url, flush_every=5, on_published=kill_after_k)
    with pytest.raises(Crash):
        asyncio.run(first.run(until_caught_up=True))
    assert first.stats.published == k

    second = NatsRelay(app, options, url=nats_url, flush_every=5)
    asyncio.run(second.run(until_caught_up=True))
    # Its database position said 15 (flushed every 5); the stream said 17: it trusts the stream.
    assert second.stats.resumed_from == expected[k - 1]["position"]
    assert second.stats.published == len(expected) - k

    messages = asyncio.run(
        stream_messages(nats_url, relay_settings.nats_stream, relay_settings.nats_subject_prefix)
    )
    assert [m[0] for m in messages] == [e["id"] for e in expected]
    assert [m[1] for m in messages] == expected
    assert len({m[0] for m in messages}) == len(expected)


def test_a_following_relay_stops_at_once_when_told(
    app: ComplaintsApp, ctx: CommandContext, relay_settings: Settings, nats_url: str
) -> None:
    """``relay nats`` sets ``stop`` on SIGTERM (``docker stop``): a relay waiting for new
    events ends then, not when its 5 s wait runs out."""
    app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    relay = NatsRelay(app, relay_options(relay_settings), url=nats_url)

    async def seconds_to_stop() -> float:
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop=stop))
        deadline = time.monotonic() + 10
        while relay.stats.published < 2 and time.monotonic() < deadline:  # filed, SLA applied
            await asyncio.sleep(0.02)
        assert relay.stats.published == 2
        await asyncio.sleep(0.3)  # caught up: waiting for new events
        asked = time.monotonic()
        stop.set()
        await asyncio.wait_for(running, 10)
        return time.monotonic() - asked

    assert asyncio.run(seconds_to_stop()) < 1.0
