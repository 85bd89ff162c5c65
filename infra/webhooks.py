"""The webhook delivery worker: follows the event feed once per subscription and POSTs each event.

Per subscription, events go out strictly in position order, one at a time: the next event is sent
only after the previous one was acknowledged (2xx). A failure holds the subscription at that event
and retries it after ``base * 2**(failures - 1)`` seconds (capped); after ``webhook_max_failures``
consecutive failures the subscription is paused until an admin resumes it. Different subscriptions
are served concurrently, so one slow receiver does not hold up the others.

Run one worker per database: two would each deliver (harmless for receivers that de-duplicate on the
event id, but wasteful).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from uuid import UUID

import httpx
from eventsourcing.application import Application

from infra.event_watcher import EventWatcher
from infra.settings import Settings
from infra.webhook_signature import (
    ATTEMPT_HEADER,
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    signed_headers,
)
from infra.webhook_store import ACTIVE, Delivery, Subscription, WebhookStore
from projections.coordination import coordinator_for
from queries.cloudevents import MEDIA_TYPE
from queries.event_feed import read_page

log = logging.getLogger(__name__)

PAGE_SIZE = 50
# Subscriptions created, resumed or deleted through the API (maybe in another process) send no
# wake-up, so an idle worker re-reads the subscription table this often.
IDLE_RECHECK_SECONDS = 1.0
DELIVERY_LOCK = "webhook-delivery"
STANDBY_RECHECK_SECONDS = 1.0


def retry_delay(settings: Settings, failures: int) -> float:
    return float(
        min(settings.webhook_retry_base_seconds * 2 ** (failures - 1),
            settings.webhook_retry_max_seconds)
    )


class WebhookSender:
    """Signs and POSTs one event; never raises for receiver trouble, it reports it."""

    def __init__(self, settings: Settings) -> None:
        self._client = httpx.Client(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": "complaint-ledger-webhooks/1"},
        )

    def close(self) -> None:
        self._client.close()

    def send(
        self, subscription: Subscription, event: dict[str, Any], *, attempt: int, manual: bool
    ) -> Delivery:
        delivery_id = str(uuid.uuid4())
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": f"{MEDIA_TYPE}; charset=utf-8",
            EVENT_ID_HEADER: event["id"],
            DELIVERY_ID_HEADER: delivery_id,
            ATTEMPT_HEADER: str(attempt),
            **signed_headers(subscription.secret, body),
        }
        started = time.time()
        status: int | None = None
        error: str | None = None
        try:
            response = self._client.post(subscription.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"[:500]
        return Delivery(
            id=delivery_id, subscription_id=subscription.id, event_id=event["id"],
            position=event["position"], event_type=event["type"], attempt=attempt,
            manual=manual, succeeded=error is None, status_code=status, error=error,
            duration_ms=(time.time() - started) * 1000, attempted_at=started,
        )


class WebhookWorker:
    def __init__(
        self,
        app: Application[UUID],
        settings: Settings,
        *,
        watcher: EventWatcher | None = None,
    ) -> None:
        self._app = app
        self._settings = settings
        self._store = WebhookStore(app)
        self._sender = WebhookSender(settings)
        self._owns_watcher = watcher is None
        self._watcher = watcher or EventWatcher(app, settings.stream_poll_seconds)
        self._pool = ThreadPoolExecutor(
            max_workers=settings.webhook_concurrency, thread_name_prefix="webhook"
        )
        self._in_flight: dict[str, Future[None]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._standing_by = False

    def start(self) -> WebhookWorker:
        if self._owns_watcher:
            self._watcher.start()
        self._thread = threading.Thread(target=self._run, name="webhook-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._owns_watcher:
            self._watcher.stop()
        self._sender.close()

    def _run(self) -> None:
        # One active worker per database (PostgreSQL advisory lock, as for projections): two
        # would send every event twice. Others stand by and take over when its session ends.
        with coordinator_for(self._app.recorder, self._settings.stream_poll_seconds) as lock:
            while not self._stopping.is_set():
                self._standing_by = not lock.acquire(DELIVERY_LOCK)
                if self._standing_by:
                    self._stopping.wait(STANDBY_RECHECK_SECONDS)
                    continue
                generation = self._watcher.generation
                timeout = IDLE_RECHECK_SECONDS
                try:
                    timeout = min(timeout, self._dispatch())
                except Exception:  # the database may be briefly away: keep the worker alive
                    log.exception("webhook worker pass failed")
                    timeout = 1.0
                self._watcher.wait(generation, max(timeout, 0.01))

    @property
    def is_standing_by(self) -> bool:
        """Whether another worker holds the delivery lock (this one then sends nothing)."""
        return self._standing_by

    def _dispatch(self) -> float:
        """Starts a drain for each due subscription; returns seconds until the next retry is due."""
        now = time.time()
        next_due = IDLE_RECHECK_SECONDS
        for subscription in self._store.all():
            if subscription.state != ACTIVE:
                continue
            if subscription.next_attempt_at > now:
                next_due = min(next_due, subscription.next_attempt_at - now)
                continue
            running = self._in_flight.get(subscription.id)
            if running is not None and not running.done():
                continue
            future = self._pool.submit(self._drain, subscription.id)
            # A drain that ends may have raced a wake-up meant for it: look again.
            future.add_done_callback(lambda _: self._watcher.notify())
            self._in_flight[subscription.id] = future
        return next_due

    def _drain(self, subscription_id: str) -> None:
        """Delivers this subscription's backlog in order until caught up or a delivery fails."""
        while not self._stopping.is_set():
            subscription = self._store.get(subscription_id)
            if (
                subscription is None
                or subscription.state != ACTIVE
                or subscription.next_attempt_at > time.time()
            ):
                return
            page = read_page(
                self._app, after=subscription.position, limit=PAGE_SIZE,
                types=subscription.types or None, source=self._settings.events_source,
            )
            failures = subscription.consecutive_failures
            for event in page.events:
                if not self._deliver(subscription, event, failures):
                    return
                failures = 0
                if self._stopping.is_set():
                    return
            if not page.more:
                if page.next_cursor > subscription.position and not page.events:
                    self._store.skip_to(subscription.id, subscription.position, page.next_cursor)
                if not page.events:
                    return

    def _deliver(self, subscription: Subscription, event: dict[str, Any], failures: int) -> bool:
        delivery = self._sender.send(subscription, event, attempt=failures + 1, manual=False)
        if delivery.succeeded:
            self._store.record_success(delivery)
            return True
        failures += 1
        pause = failures >= self._settings.webhook_max_failures
        self._store.record_failure(
            delivery,
            failures=failures,
            next_attempt_at=time.time() + retry_delay(self._settings, failures),
            pause=pause,
        )
        log.warning(
            "webhook %s to %s failed (%s), attempt %d%s", subscription.id, subscription.url,
            delivery.error, failures, "; paused" if pause else "",
        )
        return False


def redeliver(
    app: Application[UUID], settings: Settings, store: WebhookStore, delivery: Delivery
) -> Delivery:
    """Sends a logged delivery's event again, now; logged as manual, position untouched."""
    subscription = store.get(delivery.subscription_id)
    if subscription is None:
        raise LookupError(f"no subscription {delivery.subscription_id}")
    page = read_page(app, after=delivery.position - 1, limit=1, source=settings.events_source)
    if not page.events or page.events[0]["id"] != delivery.event_id:
        raise LookupError(f"event {delivery.event_id} is no longer at position {delivery.position}")
    sender = WebhookSender(settings)
    try:
        again = sender.send(subscription, page.events[0], attempt=delivery.attempt, manual=True)
    finally:
        sender.close()
    store.record_manual(again)
    return again


def start_webhook_worker(settings: Settings) -> WebhookWorker:
    """Runs a worker with its own application service on daemon threads (used by `serve`).

    No orderly stop is needed: delivery is at-least-once from the recorded position, so a process
    that exits mid-delivery only causes that one event to be sent again on the next start.
    """
    from infra.wiring import build_app

    return WebhookWorker(build_app(settings), settings).start()
