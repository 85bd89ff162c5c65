"""A webhook receiver cannot make delivery unbounded, on SQLite and PostgreSQL: a huge answer is
not read, a trickling one fails at the deadline, slow receivers do not starve a fast one, and a
redelivery request returns at once (202) while the worker makes the attempt."""

from __future__ import annotations

import time
import tracemalloc
from contextlib import ExitStack

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from infra.settings import Settings
from stream.delivery_errors import TIMEOUT
from tests.stream.receiver import Receiver, receiver
from tests.stream.webhook_setup import (
    admin_client,
    deliveries,
    file_and_assign,
    running_worker,
    subscribe,
    wait_until,
    webhook_settings,
)

HUGE = 200 * 1024 * 1024


def test_a_huge_answer_is_not_read(
    settings: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str, hook: Receiver
) -> None:
    fast = webhook_settings(settings)
    hook.body_bytes = HUGE
    with admin_client(fast, admin_token) as admin:
        sub = subscribe(admin, hook.url)["id"]
        file_and_assign(app, ctx)
        tracemalloc.start()
        try:
            with running_worker(app, fast):
                wait_until(lambda: len(deliveries(admin, sub)) == 3)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        log = deliveries(admin, sub)
    # Only the status acknowledges: all three events went through, without reading 200 MB each.
    assert [d["succeeded"] for d in log] == [True, True, True]
    assert peak < 20 * 1024 * 1024, peak
    # The sender hung up: what the receiver got onto the wire is what the socket buffers hold.
    assert hook.sent_bytes < HUGE / 4, hook.sent_bytes


def test_a_trickling_answer_fails_at_the_deadline(
    settings: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str, hook: Receiver
) -> None:
    deadline = 1.0
    fast = webhook_settings(settings, webhook_timeout_seconds=deadline)
    hook.body_bytes = 1000  # a byte every 20 ms: 20 s in all, each read well within any timeout
    hook.trickle_seconds = 0.02
    with admin_client(fast, admin_token) as admin:
        sub = subscribe(admin, hook.url)["id"]
        file_and_assign(app, ctx)
        with running_worker(app, fast):
            wait_until(lambda: deliveries(admin, sub))
        first = deliveries(admin, sub)[0]
    assert first["error"] == TIMEOUT and not first["succeeded"]
    assert deadline * 1000 <= first["duration_ms"] < deadline * 1000 + 1000


def test_slow_receivers_do_not_starve_a_fast_one(
    settings: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str
) -> None:
    deadline = 3.0
    fast_settings = webhook_settings(settings, webhook_timeout_seconds=deadline)
    with ExitStack() as stack:
        slow = [stack.enter_context(receiver()) for _ in range(8)]  # more than the old 4 threads
        fast = stack.enter_context(receiver())
        admin = stack.enter_context(admin_client(fast_settings, admin_token))
        for r in slow:
            r.delay = deadline + 2  # never answers in time
            subscribe(admin, r.url)
        subscribe(admin, fast.url)
        file_and_assign(app, ctx)
        stack.enter_context(running_worker(app, fast_settings))
        started = time.monotonic()
        wait_until(lambda: len(fast.accepted()) == 3, timeout=deadline)
        elapsed = time.monotonic() - started
        # The slow ones were all being tried at the same time, and are still hanging.
        assert all(len(r.requests) == 1 for r in slow)
    assert elapsed < deadline / 2, elapsed


def test_redelivery_is_queued_and_made_by_the_worker(
    settings: Settings, app: ComplaintsApp, ctx: CommandContext, admin_token: str, hook: Receiver
) -> None:
    fast = webhook_settings(settings)
    with admin_client(fast, admin_token) as admin:
        sub = subscribe(admin, hook.url)["id"]
        file_and_assign(app, ctx)
        with running_worker(app, fast):
            wait_until(lambda: len(deliveries(admin, sub)) == 3)
            original = deliveries(admin, sub)[0]
            hook.delay = 1.5  # a slow receiver must not hold the API request
            started = time.monotonic()
            queued = admin.post(f"/subscriptions/{sub}/deliveries/{original['id']}/redeliver")
            answered_in = time.monotonic() - started
            assert queued.status_code == 202, queued.text
            assert answered_in < 1.0, answered_in
            location = queued.headers["Location"]
            redelivery = queued.json()
            assert location == f"/subscriptions/{sub}/redeliveries/{redelivery['id']}"
            assert redelivery["state"] == "pending" and redelivery["delivery"] is None
            assert redelivery["event_id"] == original["event_id"]
            wait_until(lambda: admin.get(location).json()["state"] == "attempted")
        done = admin.get(location).json()
        log = deliveries(admin, sub)
    made = done["delivery"]
    assert made["id"] == redelivery["id"] and made["manual"] and made["succeeded"]
    assert made["event_id"] == original["event_id"]
    assert [d["id"] for d in log][-1] == made["id"]
    assert hook.requests[-1].headers["Complaints-Event-Id"] == original["event_id"]


def test_redelivery_of_unknown_ids_is_a_404(
    settings: Settings, app: ComplaintsApp, admin_token: str, hook: Receiver
) -> None:
    with admin_client(webhook_settings(settings), admin_token) as admin:
        sub = subscribe(admin, hook.url)["id"]
        for path in [
            f"/subscriptions/{sub}/deliveries/00000000-0000-0000-0000-000000000000/redeliver",
            f"/subscriptions/{sub}/deliveries/not-a-uuid/redeliver",
            "/subscriptions/not-a-uuid/deliveries/x/redeliver",
        ]:
            assert admin.post(path).status_code == 404, path
        for path in [
            f"/subscriptions/{sub}/redeliveries/00000000-0000-0000-0000-000000000000",
            f"/subscriptions/{sub}/redeliveries/not-a-uuid",
            "/subscriptions/not-a-uuid", "/subscriptions/not-a-uuid/deliveries",
        ]:
            assert admin.get(path).status_code == 404, path
        assert admin.delete("/subscriptions/not-a-uuid").status_code == 404
        # A control character never reaches the routes: the query guard refuses it first.
        assert admin.get(f"/subscriptions/{sub}/redeliveries/nul%00here").status_code == 422


def test_redeliveries_waiting_past_the_cap_are_a_429(
    settings: Settings,
    app: ComplaintsApp,
    ctx: CommandContext,
    admin_token: str,
    hook: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("stream.webhook_store.MAX_PENDING_REDELIVERIES", 3)
    fast = webhook_settings(settings)
    with admin_client(fast, admin_token) as admin:
        sub = subscribe(admin, hook.url)["id"]
        file_and_assign(app, ctx)
        with running_worker(app, fast):
            wait_until(lambda: len(deliveries(admin, sub)) == 3)
        # No worker now: requests wait.
        original = deliveries(admin, sub)[0]["id"]
        path = f"/subscriptions/{sub}/deliveries/{original}/redeliver"
        assert [admin.post(path).status_code for _ in range(3)] == [202] * 3
        refused = admin.post(path)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "10"
        assert refused.headers["content-type"] == "application/problem+json"
