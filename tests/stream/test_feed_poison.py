"""The outbound event feed survives events stored before intake was hardened, on SQLite and
PostgreSQL: the cursor API, the webhook worker and the NATS relay carry them (sanitised) and the
events after them; an event that cannot even be decoded is skipped, not a dead end."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient

from aggregates.complaint import Complaint
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import relay_options
from infra.settings import Settings
from stream.relay import NatsRelay
from tests.intake import intake
from tests.poison import POISONS, store_poison, store_poison_comment
from tests.stream.jetstream import stored_messages
from tests.stream.receiver import receiver
from tests.stream.webhook_setup import admin_client, running_worker, subscribe, webhook_settings


def store_every_poison_then_a_good_one(app: ComplaintsApp, ctx: CommandContext) -> uuid.UUID:
    last = None
    for overrides in POISONS.values():
        last = store_poison(app, **overrides)
    assert last is not None
    store_poison_comment(app, last)
    return app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id


def assert_sanitised(events: list[dict[str, object]], good: uuid.UUID) -> None:
    assert len(events) == len(POISONS) + 3
    # the events after the poison ones: the good filing and its SLA terms
    assert [e["subject"] for e in events[-2:]] == [str(good)] * 2
    text = json.dumps(events)
    assert "\\u0000" not in text and "\x00" not in text
    received = [e["data"]["received_at"] for e in events[: len(POISONS)]]  # type: ignore[index]
    assert received[0] == "0001-01-01T00:00:00Z"  # was 0001-01-01T00:00:00+01:00
    assert received[1] == "9999-12-31T23:59:59.999999Z"  # was 9999-12-31T23:30:00-01:00
    subjects = {e["data"].get("subject") for e in events}  # type: ignore[attr-defined]
    assert "nulhere" in subjects
    assert events[-3]["type"] == "complaint.commented"
    assert events[-3]["data"]["body"] == "nulhere"  # type: ignore[index]


def test_the_cursor_api_carries_poison_events_sanitised_and_those_after_them(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    good = store_every_poison_then_a_good_one(app, ctx)
    # A compliance token reads the personal fields (the comment's body) in clear.
    compliance = app.tokens.issue("carol", "compliance", ctx).secret
    response = client.get(
        "/events", params={"after": 0, "limit": 100},
        headers={"Authorization": f"Bearer {compliance}"},
    )
    assert response.status_code == 200, response.text
    assert_sanitised(response.json()["events"], good)


def test_an_undecodable_stored_event_is_skipped_and_logged(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, caplog: pytest.LogCaptureFixture
) -> None:
    broken = StoredEvent(
        originator_id=uuid.uuid4(), originator_version=1,
        topic=get_topic(Complaint.Commented), state=b"\x00 not json",
    )
    app.recorder.insert_events([broken])
    good = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    events = client.get("/events", params={"after": 0}).json()["events"]
    assert [e["subject"] for e in events] == [str(good)] * 2  # filed, SLA applied
    assert "skipped the undecodable event" in caplog.text


def test_webhooks_deliver_poison_events_and_those_after_them(
    settings: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str
) -> None:
    fast = webhook_settings(settings)
    with receiver() as hook, admin_client(fast, admin_token) as admin:
        sub = subscribe(admin, hook.url, after=0, personal_data=True)["id"]
        good = store_every_poison_then_a_good_one(app, ctx)
        with running_worker(app, fast):
            hook.wait_for(lambda: len(hook.accepted()) == len(POISONS) + 3)
        assert admin.get(f"/subscriptions/{sub}").json()["consecutive_failures"] == 0
        assert_sanitised([json.loads(r.body) for r in hook.accepted()], good)


def test_the_nats_relay_publishes_poison_events_and_those_after_them(
    relay_settings: Settings, app: ComplaintsApp, ctx: CommandContext, nats_url: str
) -> None:
    good = store_every_poison_then_a_good_one(app, ctx)
    logging.getLogger("nats").setLevel(logging.WARNING)
    in_clear = relay_settings.model_copy(update={"nats_personal_data": True})
    relay = NatsRelay(app, relay_options(in_clear), url=nats_url)
    asyncio.run(relay.run(until_caught_up=True))
    messages = asyncio.run(stored_messages(nats_url, relay_settings.nats_stream))
    assert_sanitised([body for _, body in messages], good)
