"""Personal fields on the event stream, on SQLite and PostgreSQL: ``/events`` by token, webhooks by
subscription, NATS by setting; masked unless allowed (docs/events.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import CommentOnComplaint, FileComplaint
from infra.bootstrap import Services, relay_options
from infra.settings import Settings
from stream.relay import NatsRelay
from stream.store_tables import StoreTables
from tests.api.test_read_side import catch_up
from tests.intake import intake
from tests.stream import webhook_setup
from tests.stream.jetstream import stored_messages
from tests.stream.receiver import Receiver
from tests.stream.sse_client import messages
from tests.stream.test_sse import next_events, open_stream, serve
from tests.stream.webhook_setup import file_and_assign, running_worker, subscribe

CLEAR = {"name": "张伟", "phone": "13800138000", "email": "zhang.wei@example.com"}
MASKED = {"name": "张*", "phone": "138****8000", "email": "z***@example.com"}


def customer(filed: dict[str, Any]) -> dict[str, Any]:
    return {k: filed["data"]["customer"][k] for k in ("name", "phone", "email")}


def bearer(app: ComplaintsApp, ctx: CommandContext, role: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.tokens.issue('svc', role, ctx, **kw).secret}"}


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        yield client


def test_a_service_without_the_grant_gets_personal_fields_masked_on_the_feed(
    api: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    file_and_assign(app, ctx)
    events = api.get("/events", headers=bearer(app, ctx, "service")).json()["events"]
    filed = events[0]
    assert customer(filed) == MASKED
    assert filed["data"]["description"] == filed["data"]["location"] == "[masked]"
    assert filed["data"]["customer"]["id"] == "CUST-1001"  # not personal: stays in clear


def test_a_granted_service_gets_them_in_clear_and_each_complaint_is_logged(
    api: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    file_and_assign(app, ctx)
    file_and_assign(app, ctx)
    granted = {**bearer(app, ctx, "service", grants=["personal_data"]), "X-Purpose": "crm-sync"}
    events = api.get("/events", headers=granted).json()["events"]
    assert customer(events[0]) == CLEAR

    compliance = bearer(app, ctx, "compliance")
    entries = api.get("/audit/access-log", headers=compliance).json()["items"]
    assert sorted(e["complaint_id"] for e in entries) == sorted({e["subject"] for e in events})
    assert {(e["route"], e["purpose"], e["customer_id"]) for e in entries} == {
        ("GET /events", "crm-sync", "CUST-1001")
    }


def test_a_page_without_the_filed_event_is_logged_with_the_customer_from_the_list_view(
    api: TestClient, app: ComplaintsApp, ctx: CommandContext, settings: Settings
) -> None:
    cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    app.handle(cid, CommentOnComplaint(body="Called back"), ctx)
    catch_up(app, settings)
    compliance = bearer(app, ctx, "compliance")
    page = api.get("/events", params={"types": "complaint.commented"}, headers=compliance)
    assert [e["data"]["body"] for e in page.json()["events"]] == ["Called back"]
    [entry] = api.get("/audit/access-log", headers=compliance).json()["items"]
    assert (entry["complaint_id"], entry["customer_id"], entry["fields"]) == (
        str(cid),
        "CUST-1001",
        ["body"],
    )


def test_agents_and_supervisors_may_not_read_the_feed(
    api: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    # They read complaints in their scope; the feed carries every complaint, so it is refused
    # rather than shown masked.
    file_and_assign(app, ctx)
    for role, teams in (("agent", ["t1"]), ("supervisor", ["t1"])):
        refused = api.get("/events", headers=bearer(app, ctx, role, teams=teams))
        assert refused.status_code == 403, role
        assert refused.json()["action"] == "events.read"
        assert CLEAR["phone"] not in refused.text


@pytest.fixture
def admin(settings: Settings, app: ComplaintsApp, admin_token: str) -> Iterator[TestClient]:
    with webhook_setup.admin_client(
        webhook_setup.webhook_settings(settings), admin_token
    ) as client:
        yield client


@pytest.mark.parametrize("granted", [False, True])
def test_webhooks_send_personal_fields_masked_unless_the_subscription_is_granted(
    admin: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    settings: Settings,
    hook: Receiver,
    granted: bool,
) -> None:
    extra = {"personal_data": True} if granted else {}
    made = subscribe(admin, hook.url, types=["complaint.filed"], **extra)
    assert made["personal_data"] is granted
    file_and_assign(app, ctx)
    with running_worker(app, webhook_setup.webhook_settings(settings)):
        hook.wait_for(lambda: len(hook.accepted()) == 1)
    assert customer(json.loads(hook.accepted()[0].body)) == (CLEAR if granted else MASKED)


@pytest.mark.parametrize("granted", [False, True])
def test_the_nats_relay_masks_personal_fields_unless_the_setting_allows_them(
    app: ComplaintsApp,
    ctx: CommandContext,
    relay_settings: Settings,
    nats_url: str,
    granted: bool,
) -> None:
    file_and_assign(app, ctx)
    options = relay_options(relay_settings.model_copy(update={"nats_personal_data": granted}))
    asyncio.run(NatsRelay(app, options, url=nats_url).run(until_caught_up=True))
    messages = asyncio.run(stored_messages(nats_url, relay_settings.nats_stream))
    assert customer(messages[0][1]) == (CLEAR if granted else MASKED)


def test_the_nats_relay_masks_by_default() -> None:
    assert Settings().nats_personal_data is False


@pytest.mark.parametrize(
    ("role", "grants", "allowed"),
    [("compliance", [], True), ("service", ["personal_data"], True), ("service", [], False)],
)
def test_the_sse_stream_is_in_clear_and_logged_only_for_those_allowed(
    settings: Settings,
    api: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    role: str,
    grants: list[str],
    allowed: bool,
) -> None:
    file_and_assign(app, ctx)
    token = app.tokens.issue("reader", role, ctx, grants=grants).secret
    with serve(settings) as base_url, open_stream(base_url, token, params={"after": 0}) as answer:
        assert answer.status_code == 200
        filed = next_events(messages(answer), 1)[0]
    assert customer(filed) == (CLEAR if allowed else MASKED)
    entries = api.get("/audit/access-log", headers=bearer(app, ctx, "compliance")).json()["items"]
    assert [(e["principal"], e["route"]) for e in entries] == (
        [("reader", "GET /events/stream")] if allowed else []
    )


def test_subscriptions_made_before_the_flag_existed_stay_masked(services: Services) -> None:
    store = services.webhook_store
    made = store.add(
        url="https://example.com/hook", types=[], secret="s" * 16, position=0, created_by="root"
    )
    tables = StoreTables(services.app, "webhook_subscriptions")
    with tables.cursor(commit=True) as cursor:  # as a table of an earlier version was
        cursor.execute(tables.sql("ALTER TABLE {webhook_subscriptions} DROP COLUMN personal_data"))
    store.migrate()
    again = store.get(made.id)
    assert again is not None and again.personal_data is False
