"""The webhook delivery worker: follows the event feed once per subscription and POSTs each event.

Per subscription, events go out strictly in position order, one at a time: the next event is sent
only after the previous one was acknowledged (2xx). A failure holds the subscription at that event
and retries it after ``base * 2**(failures - 1)`` seconds (capped); after ``webhook_max_failures``
consecutive failures the subscription is paused until an admin resumes it.

Fairness: the worker is one asyncio loop (on its own thread) with one task per subscription that
has something to send. Attempts are bounded by ``webhook_timeout_seconds`` each and take one of
``webhook_concurrency`` slots (a FIFO semaphore) only while in flight, so a slow receiver costs a
socket and a coroutine, not a thread, and holds at most one slot at a time: receivers that answer
late, trickle or hang cannot keep the others waiting unless there are more of them than slots, and
even then every subscription waits its turn for the next free slot rather than behind them all.
Database work runs in the loop's worker threads.

Manual redeliveries are requested through the API (``webhook_redeliveries``) and attempted here, in
the same slots, so no request thread ever waits on a receiver.

Run one worker per database: the delivery lock (a PostgreSQL advisory lock, or a lock file beside a
SQLite database) lets one deliver while others stand by.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from projections.database import database_of
from stream.delivery_policy import DeliveryPolicy
from stream.event_watcher import EventWatcher
from stream.feed import read_page
from stream.observer import DeliveryObserver, Unobserved
from stream.webhook_sender import WebhookSender
from stream.webhook_store import (
    ACTIVE,
    PENDING,
    Delivery,
    Redelivery,
    Subscription,
    WebhookStore,
)
from stream.webhook_targets import redacted

log = logging.getLogger(__name__)

PAGE_SIZE = 50
# Subscriptions created, resumed or deleted and redeliveries requested through the API (maybe in
# another process) send no wake-up, so an idle worker re-reads its tables this often.
IDLE_RECHECK_SECONDS = 1.0
DELIVERY_LOCK = "webhook-delivery"
STANDBY_RECHECK_SECONDS = 1.0
REDELIVERIES_PER_PASS = 100


class WebhookWorker:
    """Delivers every active subscription's events in order, from a thread of its own."""

    def __init__(
        self,
        app: Application[UUID],
        policy: DeliveryPolicy,
        store: WebhookStore,
        *,
        watcher: EventWatcher | None = None,
    ) -> None:
        self._app = app
        self._policy = policy
        self._store = store
        self._owns_watcher = watcher is None
        self._watcher = watcher or EventWatcher(app, policy.poll_seconds)
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._redeliveries: dict[str, asyncio.Task[None]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._standing_by = False
        self.observer: DeliveryObserver = Unobserved()
        """Told each attempt's outcome (the metrics, plugged in by the composition root)."""
        # Made in the worker's own event loop (see _main).
        self._slots: asyncio.Semaphore
        self._sender: WebhookSender

    def start(self) -> WebhookWorker:
        if self._owns_watcher:
            self._watcher.start()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="webhook-worker", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.notify()
        if self._thread is not None:
            self._thread.join(timeout=self._policy.timeout_seconds + 10)
        if self._owns_watcher:
            self._watcher.stop()

    @property
    def is_standing_by(self) -> bool:
        """Whether another worker holds the delivery lock (this one then sends nothing)."""
        return self._standing_by

    async def _main(self) -> None:
        self._slots = asyncio.Semaphore(self._policy.concurrency)
        self._sender = WebhookSender(self._policy)
        try:
            await self._run()
        finally:
            tasks = [*self._drains.values(), *self._redeliveries.values()]
            for task in tasks:
                task.cancel()  # at-least-once: a cancelled attempt is sent again later
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._sender.aclose()

    async def _run(self) -> None:
        # One active worker per database (PostgreSQL advisory lock, as for projections): two
        # would send every event twice. Others stand by and take over when its session ends.
        coordinator = database_of(self._app).coordinator(self._policy.poll_seconds)
        with coordinator as lock:
            while not self._stopping.is_set():
                generation = self._watcher.generation
                timeout = IDLE_RECHECK_SECONDS
                try:
                    self._standing_by = not await asyncio.to_thread(lock.acquire, DELIVERY_LOCK)
                    if self._standing_by:
                        timeout = STANDBY_RECHECK_SECONDS
                    else:
                        timeout = min(timeout, await self._dispatch())
                except Exception:  # the database may be briefly away: keep the worker alive
                    log.exception("webhook worker pass failed")
                    timeout = 1.0
                await self._watcher.wait_async(generation, max(timeout, 0.01))

    async def _dispatch(self) -> float:
        """Starts a task per due subscription and pending redelivery; returns seconds until the
        next retry is due."""
        now = time.time()
        next_due = IDLE_RECHECK_SECONDS
        for subscription in await asyncio.to_thread(self._store.all):
            if subscription.state != ACTIVE:
                continue
            if subscription.next_attempt_at > now:
                next_due = min(next_due, subscription.next_attempt_at - now)
                continue
            self._start(self._drains, subscription.id, partial(self._drain, subscription.id))
        pending = await asyncio.to_thread(self._store.pending_redeliveries, REDELIVERIES_PER_PASS)
        for redelivery in pending:
            self._start(self._redeliveries, redelivery.id, partial(self._redeliver, redelivery))
        return next_due

    def _start(
        self,
        tasks: dict[str, asyncio.Task[None]],
        key: str,
        work: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        """Runs ``work`` as a task under ``key`` unless one is still running there."""
        running = tasks.get(key)
        if running is not None and not running.done():
            return
        task = asyncio.create_task(work())
        tasks[key] = task

        def finished(done: asyncio.Task[None]) -> None:
            if tasks.get(key) is done:
                del tasks[key]
            if not done.cancelled() and done.exception() is not None:
                log.error("webhook task failed", exc_info=done.exception())
            # A task that ends may have raced a wake-up meant for it: look again.
            self._watcher.notify()

        task.add_done_callback(finished)

    async def _drain(self, subscription_id: str) -> None:
        """Delivers this subscription's backlog in order until caught up or a delivery fails."""
        while not self._stopping.is_set():
            subscription = await asyncio.to_thread(self._store.get, subscription_id)
            if (
                subscription is None
                or subscription.state != ACTIVE
                or subscription.next_attempt_at > time.time()
            ):
                return
            page = await asyncio.to_thread(
                read_page, self._app, after=subscription.position, limit=PAGE_SIZE,
                types=subscription.types or None, source=self._policy.source,
                personal_data=subscription.personal_data,
            )
            failures = subscription.consecutive_failures
            for event in page.events:
                if not await self._deliver(subscription, event, failures):
                    return
                failures = 0
                if self._stopping.is_set():
                    return
            if not page.more:
                if page.next_cursor > subscription.position and not page.events:
                    await asyncio.to_thread(
                        self._store.skip_to, subscription.id, subscription.position,
                        page.next_cursor,
                    )
                if not page.events:
                    return

    async def _send(
        self,
        subscription: Subscription,
        event: dict[str, object],
        *,
        attempt: int,
        manual: bool,
        delivery_id: str | None = None,
    ) -> Delivery:
        try:
            secret: str | None = self._store.signing_secret(subscription)
        except ValueError as e:  # sealed with another key, or damaged
            log.error("webhook %s: cannot unseal its secret: %s", subscription.id, e)
            secret = None
        async with self._slots:
            return await self._sender.send(
                subscription, secret, event, attempt=attempt, manual=manual,
                delivery_id=delivery_id,
            )

    async def _deliver(
        self, subscription: Subscription, event: dict[str, object], failures: int
    ) -> bool:
        delivery = await self._send(subscription, event, attempt=failures + 1, manual=False)
        self.observer.delivered(subscription.id, succeeded=delivery.succeeded, manual=False)
        if delivery.succeeded:
            await asyncio.to_thread(self._store.record_success, delivery)
            return True
        failures += 1
        pause = failures >= self._policy.max_failures
        await asyncio.to_thread(
            self._store.record_failure,
            delivery,
            failures=failures,
            next_attempt_at=time.time() + self._policy.retry_delay(failures),
            pause=pause,
        )
        log.warning(
            "webhook %s to %s failed (%s%s), attempt %d%s", subscription.id,
            redacted(subscription.url), delivery.error,
            f" {delivery.status_code}" if delivery.status_code else "", failures,
            "; paused" if pause else "",
        )
        return False

    async def _redeliver(self, redelivery: Redelivery) -> None:
        """Sends a requested redelivery's event again; logged as manual, position untouched."""
        current = await asyncio.to_thread(
            self._store.redelivery, redelivery.subscription_id, redelivery.id
        )
        if current is None or current.state != PENDING:
            return  # attempted by a task of an earlier pass, read as pending before it ended
        subscription = await asyncio.to_thread(self._store.get, redelivery.subscription_id)
        if subscription is None:
            return  # deleted meanwhile, and its redeliveries with it
        page = await asyncio.to_thread(
            read_page, self._app, after=redelivery.position - 1, limit=1,
            source=self._policy.source, personal_data=subscription.personal_data,
        )
        if not page.events or page.events[0]["id"] != redelivery.event_id:
            await asyncio.to_thread(
                self._store.abandon_redelivery, redelivery.id,
                f"event {redelivery.event_id} is no longer at position {redelivery.position}",
            )
            return
        delivery = await self._send(
            subscription, page.events[0], attempt=redelivery.attempt, manual=True,
            delivery_id=redelivery.id,
        )
        self.observer.delivered(subscription.id, succeeded=delivery.succeeded, manual=True)
        await asyncio.to_thread(self._store.record_redelivery, delivery)

