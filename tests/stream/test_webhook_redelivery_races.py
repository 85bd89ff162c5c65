"""A redelivery request read as pending by two worker passes is logged once, never an error.

Found by the fuzzer (bench/fuzz.py): a pass read a request as pending a moment before the previous
pass's attempt of it was recorded, attempted it again, and the second log entry (same id) failed
with a unique-constraint error inside the worker.
"""

from __future__ import annotations

import time
import uuid

from commands.application import ComplaintsApp
from infra.secrets import secret_box
from infra.settings import Settings
from stream.feed import head
from stream.webhook_store import ATTEMPTED, Delivery, WebhookStore
from tests.stream.webhook_setup import SECRET


def a_delivery(subscription_id: str, *, delivery_id: str | None = None) -> Delivery:
    return Delivery(
        id=delivery_id or str(uuid.uuid4()), subscription_id=subscription_id,
        event_id=str(uuid.uuid4()), position=1, event_type="complaint.filed", attempt=1,
        manual=False, succeeded=False, status_code=None, error="connection_failed",
        duration_ms=1.0, attempted_at=time.time(),
    )


def test_recording_one_redelivery_twice_keeps_the_first_entry(
    app: ComplaintsApp, settings: Settings
) -> None:
    store = WebhookStore(app, secret_box(settings))
    sub = store.add(
        url="https://hooks.example.com/x", types=[], secret=SECRET, position=head(app),
        created_by="admin",
    ).id
    original = a_delivery(sub)
    store.record_failure(original, failures=1, next_attempt_at=time.time(), pause=False)
    request = store.request_redelivery(original, "admin")
    first = a_delivery(sub, delivery_id=request.id)
    second = a_delivery(sub, delivery_id=request.id)

    store.record_redelivery(first)
    store.record_redelivery(second)

    logged = [d for d in store.deliveries(sub) if d.id == request.id]
    assert [d.event_id for d in logged] == [first.event_id]
    state = store.redelivery(sub, request.id)
    assert state is not None and state.state == ATTEMPTED
