"""Webhooks against a real local HTTP receiver: retries with back-off, signatures, order, log,
pausing, redelivery, and resuming from the tracked position after a restart."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from infra.settings import Settings
from infra.webhook_signature import verify
from infra.webhooks import WebhookWorker
from tests.intake import intake
from tests.stream.receiver import Receiver

SECRET = "s3cret-s3cret-s3cret"
BASE = 0.1


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_retry_base_seconds": BASE,
            "webhook_retry_max_seconds": 1.0,
            "webhook_max_failures": 3,
            "webhook_timeout_seconds": 2.0,
            "stream_poll_seconds": 0.05,
            # The local receivers listen on loopback, which webhooks may not reach by default.
            "webhook_allowed_networks": ["127.0.0.1/32"],
        }
    )


@pytest.fixture
def admin(fast: Settings, app: ComplaintsApp, admin_token: str) -> Iterator[TestClient]:
    with TestClient(create_app(fast, app)) as c:
        c.headers["Authorization"] = f"Bearer {admin_token}"
        yield c


def file_and_assign(app: ComplaintsApp, ctx: CommandContext) -> None:
    cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    app.assign(cid, AssignComplaint(assignee="bob"), ctx)


def independently_verified(request: Any) -> bool:
    # The documented recipe, written out without our helper.
    timestamp = request.headers["Complaints-Webhook-Timestamp"]
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    return request.headers["Complaints-Webhook-Signature"] == "v1=" + mac.hexdigest()


def test_retries_with_backoff_signed_in_order_with_log_redelivery_and_pause(
    admin: TestClient, app: ComplaintsApp, ctx: CommandContext, fast: Settings, hook: Receiver
) -> None:
    file_and_assign(app, ctx)  # before the subscription: not sent by default
    created = admin.post(
        "/subscriptions", json={"url": hook.url, "types": [], "secret": SECRET}
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    assert "secret" not in sub and sub["state"] == "active"
    hook.fail_next = 2
    file_and_assign(app, ctx)
    file_and_assign(app, ctx)

    worker = WebhookWorker(app, fast).start()
    try:
        hook.wait_for(lambda: len(hook.accepted()) == 4)
        attempts = list(hook.requests)
        # The first event failed twice, then went through; nothing overtook it.
        first_id = attempts[0].headers["Complaints-Event-Id"]
        assert [r.headers["Complaints-Event-Id"] for r in attempts[:3]] == [first_id] * 3
        assert [r.status for r in attempts] == [500, 500, 200, 200, 200, 200]
        assert [r.headers["Complaints-Delivery-Attempt"] for r in attempts[:3]] == ["1", "2", "3"]
        gaps = [b.at - a.at for a, b in zip(attempts, attempts[1:3], strict=False)]
        assert gaps[0] >= BASE * 0.9 and gaps[1] >= 2 * BASE * 0.9, gaps  # exponential
        events = [json.loads(r.body) for r in hook.accepted()]
        positions = [e["position"] for e in events]
        assert positions == sorted(positions) and len(set(positions)) == 4
        assert [e["type"] for e in events] == ["complaint.filed", "complaint.assigned"] * 2
        for r in attempts:
            assert r.headers["Content-Type"].startswith("application/cloudevents+json")
            assert independently_verified(r)
            assert verify(
                SECRET, r.headers["Complaints-Webhook-Timestamp"],
                r.headers["Complaints-Webhook-Signature"], r.body,
            )
            assert not verify("wrong-secret-wrong", r.headers["Complaints-Webhook-Timestamp"],
                              r.headers["Complaints-Webhook-Signature"], r.body)
            assert SECRET.encode() not in r.body

        # The receiver answers before the worker records the answer.
        hook.wait_for(
            lambda: len(admin.get(f"/subscriptions/{sub['id']}/deliveries").json()) == 6
        )
        log = admin.get(f"/subscriptions/{sub['id']}/deliveries").json()
        assert [d["succeeded"] for d in reversed(log)] == [False, False, True, True, True, True]
        assert [d["status_code"] for d in reversed(log)][:3] == [500, 500, 200]
        assert [d["position"] for d in reversed(log)][2:] == positions
        state = admin.get(f"/subscriptions/{sub['id']}").json()
        assert state["position"] == positions[-1] and state["consecutive_failures"] == 0

        # Manual redelivery: same event id, logged as manual, position unchanged.
        queued = admin.post(f"/subscriptions/{sub['id']}/deliveries/{log[-1]['id']}/redeliver")
        assert queued.status_code == 202 and queued.json()["state"] == "pending"
        hook.wait_for(
            lambda: admin.get(queued.headers["Location"]).json()["state"] == "attempted"
        )
        redone = admin.get(queued.headers["Location"]).json()["delivery"]
        assert redone["manual"] and redone["succeeded"] and redone["event_id"] == first_id
        assert hook.requests[-1].headers["Complaints-Event-Id"] == first_id
        assert admin.get(f"/subscriptions/{sub['id']}").json()["position"] == positions[-1]

        # A receiver that keeps failing gets the subscription paused after 3 failures.
        hook.always_fail = True
        file_and_assign(app, ctx)
        hook.wait_for(
            lambda: admin.get(f"/subscriptions/{sub['id']}").json()["state"] == "paused"
        )
        paused = admin.get(f"/subscriptions/{sub['id']}").json()
        assert paused["consecutive_failures"] == 3 and paused["last_error"] == "http_status"
        failing = [r for r in hook.requests if r.status == 500][2:]
        assert len(failing) == 3
        hook.always_fail = False
        resumed = admin.post(f"/subscriptions/{sub['id']}/resume").json()
        assert resumed["state"] == "active"
        hook.wait_for(lambda: len(hook.accepted()) == 7)  # 4 + redelivery + 2 new
    finally:
        worker.stop()

    # A restarted worker resumes from the tracked position: only the new events go out.
    before = len(hook.requests)
    file_and_assign(app, ctx)
    worker = WebhookWorker(app, fast).start()
    try:
        hook.wait_for(lambda: len(hook.accepted()) == 9)
    finally:
        worker.stop()
    new = [json.loads(r.body)["type"] for r in hook.requests[before:]]
    assert new == ["complaint.filed", "complaint.assigned"]
    ids = [r.headers["Complaints-Event-Id"] for r in hook.accepted()]
    assert len(set(ids)) == 8  # one repeat: the manual redelivery


def test_subscriptions_are_admin_only_and_validated(
    admin: TestClient, agent_token: str, hook: Receiver
) -> None:
    body = {"url": hook.url, "types": ["complaint.closed"], "secret": SECRET}
    as_agent = admin.post("/subscriptions", json=body,
                          headers={"Authorization": f"Bearer {agent_token}"})
    assert as_agent.status_code == 403
    for bad, field in [
        ({**body, "url": "ftp://example.com"}, "url"),
        ({**body, "types": ["complaint.deleted"]}, "types"),
        ({**body, "secret": "short"}, "secret"),
        ({**body, "secret": "nul\x00" + "x" * 20}, "secret"),
        ({**body, "secret": "line\nbreak" + "x" * 20}, "secret"),
        ({**body, "after": -1}, "after"),
    ]:
        response = admin.post("/subscriptions", json=bad)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == field
    assert admin.get("/subscriptions/nope").status_code == 404
    made = admin.post("/subscriptions", json=body).json()
    assert [s["id"] for s in admin.get("/subscriptions").json()] == [made["id"]]
    assert admin.delete(f"/subscriptions/{made['id']}").status_code == 204
    assert admin.get(f"/subscriptions/{made['id']}").status_code == 404


def test_a_second_worker_stands_by_and_takes_over_without_double_sends(
    admin: TestClient, app: ComplaintsApp, ctx: CommandContext, fast: Settings, hook: Receiver
) -> None:
    admin.post("/subscriptions", json={"url": hook.url, "types": [], "secret": SECRET})
    first = WebhookWorker(app, fast).start()
    second = WebhookWorker(app, fast).start()
    try:
        file_and_assign(app, ctx)
        hook.wait_for(lambda: len(hook.accepted()) == 2)
        file_and_assign(app, ctx)
        hook.wait_for(lambda: len(hook.accepted()) == 4)
        assert sorted([first.is_standing_by, second.is_standing_by]) == [False, True]
        first.stop()
        file_and_assign(app, ctx)
        hook.wait_for(lambda: len(hook.accepted()) == 6)
    finally:
        first.stop()
        second.stop()
    ids = [r.headers["Complaints-Event-Id"] for r in hook.accepted()]
    assert len(ids) == len(set(ids)) == 6  # every event once, none twice
