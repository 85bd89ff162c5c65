"""Webhook subscriptions and their delivery log, in the event store's own database (and schema).

Kept in plain tables, not in events: a subscription's secret must never reach the public event log,
and its position moves with every delivery, which is tracking state, not domain history. Each
subscription's ``position`` is the last event it acknowledged; recording a delivery and moving the
position happen in one transaction, so a restart resumes exactly there (at-least-once: an event
whose acknowledgement was received but not yet recorded is sent again, with the same event id).
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from infra.store_tables import StoreTables

ACTIVE = "active"
PAUSED = "paused"


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    types: list[str]
    secret: str
    position: int
    state: str
    consecutive_failures: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    created_by: str


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: str
    event_id: str
    position: int
    event_type: str
    attempt: int
    manual: bool
    succeeded: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    attempted_at: float


class WebhookStore:
    def __init__(self, app: Application[UUID]) -> None:
        self._tables = StoreTables(app, "webhook_subscriptions", "webhook_deliveries")
        self.create_tables()

    def _cursor(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self._tables.cursor(commit=commit)

    def _sql(self, statement: str) -> str:
        return self._tables.sql(statement)

    def create_tables(self) -> None:
        statements = [
            "CREATE TABLE IF NOT EXISTS {webhook_subscriptions} ("
            " id TEXT PRIMARY KEY, url TEXT NOT NULL, types TEXT NOT NULL, secret TEXT NOT NULL,"
            " position BIGINT NOT NULL, state TEXT NOT NULL,"
            " consecutive_failures INTEGER NOT NULL DEFAULT 0,"
            " next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0, last_error TEXT,"
            " created_at DOUBLE PRECISION NOT NULL, created_by TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS {webhook_deliveries} ("
            " id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, event_id TEXT NOT NULL,"
            " position BIGINT NOT NULL, event_type TEXT NOT NULL, attempt INTEGER NOT NULL,"
            " manual INTEGER NOT NULL, succeeded INTEGER NOT NULL, status_code INTEGER,"
            " error TEXT, duration_ms DOUBLE PRECISION NOT NULL,"
            " attempted_at DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_subscription"
            " ON {webhook_deliveries} (subscription_id, attempted_at)",
        ]
        with self._cursor(commit=True) as cursor:
            for statement in statements:
                cursor.execute(self._sql(statement))

    # ---- subscriptions ----------------------------------------------------------------------

    def add(
        self, *, url: str, types: list[str], secret: str, position: int, created_by: str
    ) -> Subscription:
        subscription = Subscription(
            id=str(uuid.uuid4()),
            url=url,
            types=types,
            secret=secret,
            position=position,
            state=ACTIVE,
            consecutive_failures=0,
            next_attempt_at=0.0,
            last_error=None,
            created_at=time.time(),
            created_by=created_by,
        )
        with self._cursor(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "INSERT INTO {webhook_subscriptions} (id, url, types, secret, position, state,"
                    " consecutive_failures, next_attempt_at, last_error, created_at, created_by)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ),
                (
                    subscription.id,
                    url,
                    json.dumps(types),
                    secret,
                    position,
                    ACTIVE,
                    0,
                    0.0,
                    None,
                    subscription.created_at,
                    created_by,
                ),
            )
        return subscription

    def get(self, subscription_id: str) -> Subscription | None:
        with self._cursor(commit=False) as cursor:
            cursor.execute(
                self._sql("SELECT * FROM {webhook_subscriptions} WHERE id = %s"), (subscription_id,)
            )
            row = cursor.fetchone()
        return _subscription(row) if row else None

    def all(self) -> list[Subscription]:
        with self._cursor(commit=False) as cursor:
            cursor.execute(
                self._sql("SELECT * FROM {webhook_subscriptions} ORDER BY created_at, id")
            )
            return [_subscription(row) for row in cursor.fetchall()]

    def delete(self, subscription_id: str) -> bool:
        with self._cursor(commit=True) as cursor:
            cursor.execute(
                self._sql("DELETE FROM {webhook_deliveries} WHERE subscription_id = %s"),
                (subscription_id,),
            )
            cursor.execute(
                self._sql("DELETE FROM {webhook_subscriptions} WHERE id = %s"), (subscription_id,)
            )
            return bool(cursor.rowcount)

    def resume(self, subscription_id: str) -> None:
        with self._cursor(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {webhook_subscriptions} SET state = %s, consecutive_failures = 0,"
                    " next_attempt_at = 0 WHERE id = %s"
                ),
                (ACTIVE, subscription_id),
            )

    def skip_to(self, subscription_id: str, old: int, new: int) -> None:
        """Moves past positions that held nothing for this subscription (compare-and-set)."""
        with self._cursor(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {webhook_subscriptions} SET position = %s"
                    " WHERE id = %s AND position = %s"
                ),
                (new, subscription_id, old),
            )

    # ---- deliveries -------------------------------------------------------------------------

    def record_success(self, delivery: Delivery) -> None:
        """Logs the delivery and moves the position past its event, in one transaction."""
        with self._cursor(commit=True) as cursor:
            self._insert(cursor, delivery)
            cursor.execute(
                self._sql(
                    "UPDATE {webhook_subscriptions} SET position = %s, consecutive_failures = 0,"
                    " next_attempt_at = 0, last_error = NULL WHERE id = %s AND position < %s"
                ),
                (delivery.position, delivery.subscription_id, delivery.position),
            )

    def record_failure(
        self, delivery: Delivery, *, failures: int, next_attempt_at: float, pause: bool
    ) -> None:
        with self._cursor(commit=True) as cursor:
            self._insert(cursor, delivery)
            cursor.execute(
                self._sql(
                    "UPDATE {webhook_subscriptions} SET consecutive_failures = %s,"
                    " next_attempt_at = %s, last_error = %s, state = %s WHERE id = %s"
                ),
                (
                    failures,
                    next_attempt_at,
                    delivery.error or f"HTTP {delivery.status_code}",
                    PAUSED if pause else ACTIVE,
                    delivery.subscription_id,
                ),
            )

    def record_manual(self, delivery: Delivery) -> None:
        """Logs a manual redelivery; it changes neither position nor failure count."""
        with self._cursor(commit=True) as cursor:
            self._insert(cursor, delivery)

    def deliveries(
        self, subscription_id: str, *, limit: int = 100, before: float | None = None
    ) -> list[Delivery]:
        """Newest first."""
        with self._cursor(commit=False) as cursor:
            cursor.execute(
                self._sql(
                    "SELECT * FROM {webhook_deliveries} WHERE subscription_id = %s"
                    " AND attempted_at < %s ORDER BY attempted_at DESC, id DESC LIMIT %s"
                ),
                (subscription_id, before if before is not None else float("inf"), limit),
            )
            return [_delivery(row) for row in cursor.fetchall()]

    def delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        with self._cursor(commit=False) as cursor:
            cursor.execute(
                self._sql(
                    "SELECT * FROM {webhook_deliveries} WHERE subscription_id = %s AND id = %s"
                ),
                (subscription_id, delivery_id),
            )
            row = cursor.fetchone()
        return _delivery(row) if row else None

    def _insert(self, cursor: Any, d: Delivery) -> None:
        cursor.execute(
            self._sql(
                "INSERT INTO {webhook_deliveries} (id, subscription_id, event_id, position,"
                " event_type, attempt, manual, succeeded, status_code, error, duration_ms,"
                " attempted_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ),
            (
                d.id,
                d.subscription_id,
                d.event_id,
                d.position,
                d.event_type,
                d.attempt,
                int(d.manual),
                int(d.succeeded),
                d.status_code,
                d.error,
                d.duration_ms,
                d.attempted_at,
            ),
        )


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row["id"],
        url=row["url"],
        types=json.loads(row["types"]),
        secret=row["secret"],
        position=int(row["position"]),
        state=row["state"],
        consecutive_failures=int(row["consecutive_failures"]),
        next_attempt_at=float(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=float(row["created_at"]),
        created_by=row["created_by"],
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        subscription_id=row["subscription_id"],
        event_id=row["event_id"],
        position=int(row["position"]),
        event_type=row["event_type"],
        attempt=int(row["attempt"]),
        manual=bool(row["manual"]),
        succeeded=bool(row["succeeded"]),
        status_code=row["status_code"],
        error=row["error"],
        duration_ms=float(row["duration_ms"]),
        attempted_at=float(row["attempted_at"]),
    )
