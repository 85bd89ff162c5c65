"""Webhook subscriptions, their delivery log and requested redeliveries, in the event store's own
database (and schema).

Kept in plain tables, not in events: a subscription's secret must never reach the public event log,
and its position moves with every delivery, which is tracking state, not domain history. Each
subscription's ``position`` is the last event it acknowledged; recording a delivery and moving the
position happen in one transaction, so a restart resumes exactly there (at-least-once: an event
whose acknowledgement was received but not yet recorded is sent again, with the same event id).

Signing secrets are stored sealed with the service key (a ``Sealer``, handed in: infra's
``SecretBox``): a copy of the database or a backup alone does not let anyone forge deliveries. Rows
written before that are sealed in place when the service starts (compare-and-set, so processes
starting together agree), and until then are read as they are.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import Application

from stream.delivery_errors import CONNECTION_FAILED, ERROR_CLASSES, HTTP_STATUS, TIMEOUT
from stream.store_tables import StoreTables

log = logging.getLogger(__name__)

ACTIVE = "active"
PAUSED = "paused"

# Redelivery states: requested, then attempted (its delivery is in the log under the same id), or
# abandoned when the event could not be read back.
PENDING = "pending"
ATTEMPTED = "attempted"
ABANDONED = "abandoned"
MAX_PENDING_REDELIVERIES = 100


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    types: list[str]
    sealed_secret: str
    """As stored: sealed (``enc:v1:...``), or plaintext in rows older than sealing."""
    position: int
    state: str
    consecutive_failures: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    created_by: str
    personal_data: bool = False
    """Events go out with their personal fields in clear (set by the admin who created it);
    otherwise masked (docs/events.md)."""


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


@dataclass(frozen=True)
class Redelivery:
    id: str
    """Also the id of the delivery it makes, once attempted."""
    subscription_id: str
    source_delivery_id: str
    event_id: str
    position: int
    event_type: str
    attempt: int
    requested_at: float
    requested_by: str
    state: str
    detail: str | None


class Sealer(Protocol):
    """Seals signing secrets for storage and opens them again, with the service key
    (``infra/secrets.py``'s ``SecretBox``)."""

    key_id: str
    """A non-secret name of the key, for log messages."""
    key_ids: frozenset[str]
    """The keys it opens: the key, and previous ones while a rotation runs."""

    def seal(self, plaintext: str) -> str: ...

    def open(self, sealed: str) -> str:
        """The plaintext; raises ValueError when another key sealed it, or it is damaged."""
        ...

    def sealing_key(self, value: str) -> str | None:
        """The id of the key that sealed ``value``; None when it is not sealed (plaintext)."""
        ...


class RedeliveryQueueFullError(Exception):
    """Raised when a subscription already has MAX_PENDING_REDELIVERIES redeliveries waiting."""


class WebhookStore:
    """Webhook subscriptions with their delivery positions, the delivery log and the queue of
    manual redeliveries: tables of ours in the event store's database (``StoreTables``)."""

    def __init__(self, app: Application[UUID], box: Sealer) -> None:
        self._tables = StoreTables(
            app, "webhook_subscriptions", "webhook_deliveries", "webhook_redeliveries"
        )
        self._box = box

    def migrate(self) -> None:
        """Creates the tables and brings rows of older versions up to date (seals plaintext
        secrets, reduces logged exception texts to error classes). Done once by the composition
        root (``infra/bootstrap.py``) when a process starts, never on a request: it scans the
        delivery log."""
        self.create_tables()
        self._add_personal_data_column()
        self._seal_plaintext_secrets()
        self._scrub_legacy_errors()

    def _cursor(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self._tables.cursor(commit=commit)

    def _sql(self, statement: str) -> str:
        return self._tables.sql(statement)

    def _rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """What one read-only statement selects, in a transaction of its own."""
        with self._cursor(commit=False) as cursor:
            cursor.execute(self._sql(statement), params)
            return list(cursor.fetchall())

    def _change(self, statement: str, params: tuple[Any, ...]) -> None:
        """Runs one statement in a committed transaction of its own."""
        with self._cursor(commit=True) as cursor:
            cursor.execute(self._sql(statement), params)

    def create_tables(self) -> None:
        statements = [
            "CREATE TABLE IF NOT EXISTS {webhook_subscriptions} ("
            " id TEXT PRIMARY KEY, url TEXT NOT NULL, types TEXT NOT NULL, secret TEXT NOT NULL,"
            " position BIGINT NOT NULL, state TEXT NOT NULL,"
            " consecutive_failures INTEGER NOT NULL DEFAULT 0,"
            " next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0, last_error TEXT,"
            " created_at DOUBLE PRECISION NOT NULL, created_by TEXT NOT NULL,"
            " personal_data INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE IF NOT EXISTS {webhook_deliveries} ("
            " id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, event_id TEXT NOT NULL,"
            " position BIGINT NOT NULL, event_type TEXT NOT NULL, attempt INTEGER NOT NULL,"
            " manual INTEGER NOT NULL, succeeded INTEGER NOT NULL, status_code INTEGER,"
            " error TEXT, duration_ms DOUBLE PRECISION NOT NULL,"
            " attempted_at DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_subscription"
            " ON {webhook_deliveries} (subscription_id, attempted_at)",
            "CREATE TABLE IF NOT EXISTS {webhook_redeliveries} ("
            " id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL,"
            " source_delivery_id TEXT NOT NULL, event_id TEXT NOT NULL,"
            " position BIGINT NOT NULL, event_type TEXT NOT NULL, attempt INTEGER NOT NULL,"
            " requested_at DOUBLE PRECISION NOT NULL, requested_by TEXT NOT NULL,"
            " state TEXT NOT NULL, detail TEXT)",
            "CREATE INDEX IF NOT EXISTS webhook_redeliveries_by_state"
            " ON {webhook_redeliveries} (state, requested_at)",
        ]
        with self._cursor(commit=True) as cursor:
            for statement in statements:
                cursor.execute(self._sql(statement))

    def _add_personal_data_column(self) -> None:
        # Tables made before issue 11 lack it; their subscriptions stay masked (the default).
        with self._cursor(commit=False) as cursor:
            cursor.execute(self._sql("SELECT * FROM {webhook_subscriptions} LIMIT 0"))
            names = [column[0] for column in cursor.description]
        if "personal_data" not in names:
            with self._cursor(commit=True) as cursor:
                cursor.execute(
                    self._sql(
                        "ALTER TABLE {webhook_subscriptions}"
                        " ADD COLUMN personal_data INTEGER NOT NULL DEFAULT 0"
                    )
                )

    def _seal_plaintext_secrets(self) -> None:
        with self._cursor(commit=False) as cursor:
            cursor.execute(self._sql("SELECT id, secret FROM {webhook_subscriptions}"))
            rows = [(row["id"], row["secret"]) for row in cursor.fetchall()]
        keys = [(id_, secret, self._box.sealing_key(secret)) for id_, secret in rows]
        plaintext = [(id_, secret) for id_, secret, key in keys if key is None]
        other_keys = [id_ for id_, _, key in keys if key not in {None, *self._box.key_ids}]
        if plaintext:
            with self._cursor(commit=True) as cursor:
                for id_, secret in plaintext:
                    cursor.execute(
                        self._sql(
                            "UPDATE {webhook_subscriptions} SET secret = %s"
                            " WHERE id = %s AND secret = %s"
                        ),
                        (self._box.seal(secret), id_, secret),
                    )
            log.info("sealed %d webhook secret(s) stored in plain text", len(plaintext))
        if other_keys:
            log.error(
                "%d webhook subscription(s) have secrets sealed with another key than the"
                " configured one (key id %s): their deliveries fail with secret_unavailable"
                " until COMPLAINTS_SECRET_KEY / COMPLAINTS_SECRET_KEY_FILE names that key",
                len(other_keys), self._box.key_id,
            )

    def reseal_secrets(self) -> int:
        """Seals again with the current key every secret another (previous) key sealed, for a
        rotation of the service key; how many. Compare-and-set per row: a crash midway leaves
        each secret sealed by one of the configured keys."""
        with self._cursor(commit=False) as cursor:
            cursor.execute(self._sql("SELECT id, secret FROM {webhook_subscriptions}"))
            rows = [(row["id"], row["secret"]) for row in cursor.fetchall()]
        resealed = 0
        for id_, secret in rows:
            if self._box.sealing_key(secret) in (None, self._box.key_id):
                continue
            with self._cursor(commit=True) as cursor:
                cursor.execute(
                    self._sql(
                        "UPDATE {webhook_subscriptions} SET secret = %s"
                        " WHERE id = %s AND secret = %s"
                    ),
                    (self._box.seal(self._box.open(secret)), id_, secret),
                )
                resealed += cursor.rowcount
        return resealed

    def _scrub_legacy_errors(self) -> None:
        # Older versions logged the raw exception text (hosts, ports, resolver messages):
        # reduce it to the classes logged now.
        known = ", ".join(["%s"] * len(ERROR_CLASSES))
        classify = (
            "CASE WHEN {column} LIKE 'HTTP %%' THEN %s WHEN {column} LIKE '%%Timeout%%' THEN %s"
            " ELSE %s END"
        )
        with self._cursor(commit=True) as cursor:
            for table, column in (
                ("{webhook_deliveries}", "error"),
                ("{webhook_subscriptions}", "last_error"),
            ):
                statement = (
                    f"UPDATE {table} SET {column} = {classify.format(column=column)}"
                    f" WHERE {column} IS NOT NULL AND {column} NOT IN ({known})"
                )
                cursor.execute(
                    self._sql(statement),
                    (HTTP_STATUS, TIMEOUT, CONNECTION_FAILED, *ERROR_CLASSES),
                )

    def signing_secret(self, subscription: Subscription) -> str:
        """The subscription's secret in clear; ValueError when another key sealed it."""
        if self._box.sealing_key(subscription.sealed_secret) is None:
            return subscription.sealed_secret  # a row older than sealing, not yet migrated
        return self._box.open(subscription.sealed_secret)

    # ---- subscriptions ----------------------------------------------------------------------

    def add(
        self,
        *,
        url: str,
        types: list[str],
        secret: str,
        position: int,
        created_by: str,
        personal_data: bool = False,
    ) -> Subscription:
        subscription = Subscription(
            id=str(uuid.uuid4()),
            url=url,
            types=types,
            sealed_secret=self._box.seal(secret),
            position=position,
            state=ACTIVE,
            consecutive_failures=0,
            next_attempt_at=0.0,
            last_error=None,
            created_at=time.time(),
            created_by=created_by,
            personal_data=personal_data,
        )
        with self._cursor(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "INSERT INTO {webhook_subscriptions} (id, url, types, secret, position, state,"
                    " consecutive_failures, next_attempt_at, last_error, created_at, created_by,"
                    " personal_data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ),
                (
                    subscription.id,
                    url,
                    json.dumps(types),
                    subscription.sealed_secret,
                    position,
                    ACTIVE,
                    0,
                    0.0,
                    None,
                    subscription.created_at,
                    created_by,
                    int(personal_data),
                ),
            )
        return subscription

    def get(self, subscription_id: str) -> Subscription | None:
        rows = self._rows("SELECT * FROM {webhook_subscriptions} WHERE id = %s", (subscription_id,))
        return _subscription(rows[0]) if rows else None

    def all(self) -> list[Subscription]:
        rows = self._rows("SELECT * FROM {webhook_subscriptions} ORDER BY created_at, id")
        return [_subscription(row) for row in rows]

    def delete(self, subscription_id: str) -> bool:
        with self._cursor(commit=True) as cursor:
            cursor.execute(
                self._sql("DELETE FROM {webhook_redeliveries} WHERE subscription_id = %s"),
                (subscription_id,),
            )
            cursor.execute(
                self._sql("DELETE FROM {webhook_deliveries} WHERE subscription_id = %s"),
                (subscription_id,),
            )
            cursor.execute(
                self._sql("DELETE FROM {webhook_subscriptions} WHERE id = %s"), (subscription_id,)
            )
            return bool(cursor.rowcount)

    def resume(self, subscription_id: str) -> None:
        self._change(
            "UPDATE {webhook_subscriptions} SET state = %s, consecutive_failures = 0,"
            " next_attempt_at = 0 WHERE id = %s",
            (ACTIVE, subscription_id),
        )

    def skip_to(self, subscription_id: str, old: int, new: int) -> None:
        """Moves past positions that held nothing for this subscription (compare-and-set)."""
        self._change(
            "UPDATE {webhook_subscriptions} SET position = %s WHERE id = %s AND position = %s",
            (new, subscription_id, old),
        )

    # ---- deliveries -------------------------------------------------------------------------

    def record_success(self, delivery: Delivery) -> None:
        """Logs the delivery and moves the position past its event, in one transaction."""
        self._log_and_update(
            delivery,
            "UPDATE {webhook_subscriptions} SET position = %s, consecutive_failures = 0,"
            " next_attempt_at = 0, last_error = NULL WHERE id = %s AND position < %s",
            (delivery.position, delivery.subscription_id, delivery.position),
        )

    def record_failure(
        self, delivery: Delivery, *, failures: int, next_attempt_at: float, pause: bool
    ) -> None:
        self._log_and_update(
            delivery,
            "UPDATE {webhook_subscriptions} SET consecutive_failures = %s,"
            " next_attempt_at = %s, last_error = %s, state = %s WHERE id = %s",
            (failures, next_attempt_at, delivery.error, PAUSED if pause else ACTIVE,
             delivery.subscription_id),
        )

    def _log_and_update(self, delivery: Delivery, update: str, params: tuple[Any, ...]) -> None:
        """Logs an attempt and updates its subscription's state in one transaction."""
        with self._cursor(commit=True) as cursor:
            self._insert(cursor, delivery)
            cursor.execute(self._sql(update), params)

    # ---- redeliveries -----------------------------------------------------------------------

    def request_redelivery(self, delivery: Delivery, requested_by: str) -> Redelivery:
        """Queues a manual resend of ``delivery``'s event, for the worker to attempt."""
        redelivery = Redelivery(
            id=str(uuid.uuid4()), subscription_id=delivery.subscription_id,
            source_delivery_id=delivery.id, event_id=delivery.event_id,
            position=delivery.position, event_type=delivery.event_type,
            attempt=delivery.attempt, requested_at=time.time(), requested_by=requested_by,
            state=PENDING, detail=None,
        )
        with self._cursor(commit=True) as cursor:
            cursor.execute(
                self._sql(
                    "SELECT COUNT(*) AS n FROM {webhook_redeliveries}"
                    " WHERE subscription_id = %s AND state = %s"
                ),
                (delivery.subscription_id, PENDING),
            )
            if int(cursor.fetchone()["n"]) >= MAX_PENDING_REDELIVERIES:
                raise RedeliveryQueueFullError(
                    f"{MAX_PENDING_REDELIVERIES} redeliveries are already waiting"
                )
            cursor.execute(
                self._sql(
                    "INSERT INTO {webhook_redeliveries} (id, subscription_id,"
                    " source_delivery_id, event_id, position, event_type, attempt, requested_at,"
                    " requested_by, state, detail)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ),
                (
                    redelivery.id, redelivery.subscription_id, redelivery.source_delivery_id,
                    redelivery.event_id, redelivery.position, redelivery.event_type,
                    redelivery.attempt, redelivery.requested_at, requested_by, PENDING, None,
                ),
            )
        return redelivery

    def pending_redeliveries(self, limit: int) -> list[Redelivery]:
        """Oldest first."""
        rows = self._rows(
            "SELECT * FROM {webhook_redeliveries} WHERE state = %s"
            " ORDER BY requested_at, id LIMIT %s",
            (PENDING, limit),
        )
        return [_redelivery(row) for row in rows]

    def redelivery(self, subscription_id: str, redelivery_id: str) -> Redelivery | None:
        row = self._row_of("webhook_redeliveries", subscription_id, redelivery_id)
        return _redelivery(row) if row else None

    def record_redelivery(self, delivery: Delivery) -> None:
        """Logs a manual redelivery (same id as its request) and marks the request attempted;
        it changes neither position nor failure count. Recording the same request twice keeps
        the first log entry (a worker pass may start a request a moment before the previous
        pass's attempt of it is recorded: the receiver then gets the event twice, which
        at-least-once delivery allows, but the log must not fail)."""
        with self._cursor(commit=True) as cursor:
            self._insert(cursor, delivery, on_conflict=" ON CONFLICT (id) DO NOTHING")
            cursor.execute(
                self._sql(
                    "UPDATE {webhook_redeliveries} SET state = %s WHERE id = %s AND state = %s"
                ),
                (ATTEMPTED, delivery.id, PENDING),
            )

    def abandon_redelivery(self, redelivery_id: str, detail: str) -> None:
        self._change(
            "UPDATE {webhook_redeliveries} SET state = %s, detail = %s WHERE id = %s",
            (ABANDONED, detail, redelivery_id),
        )

    def deliveries(
        self, subscription_id: str, *, limit: int = 100, before: float | None = None
    ) -> list[Delivery]:
        """Newest first."""
        rows = self._rows(
            "SELECT * FROM {webhook_deliveries} WHERE subscription_id = %s"
            " AND attempted_at < %s ORDER BY attempted_at DESC, id DESC LIMIT %s",
            (subscription_id, before if before is not None else float("inf"), limit),
        )
        return [_delivery(row) for row in rows]

    def delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        row = self._row_of("webhook_deliveries", subscription_id, delivery_id)
        return _delivery(row) if row else None

    def _row_of(self, table: str, subscription_id: str, row_id: str) -> Any:
        """The row ``row_id`` of ``table`` if it belongs to the subscription (else ``None``)."""
        statement = "SELECT * FROM {" + table + "} WHERE subscription_id = %s AND id = %s"
        rows = self._rows(statement, (subscription_id, row_id))
        return rows[0] if rows else None

    def _insert(self, cursor: Any, d: Delivery, on_conflict: str = "") -> None:
        cursor.execute(
            self._sql(
                "INSERT INTO {webhook_deliveries} (id, subscription_id, event_id, position,"
                " event_type, attempt, manual, succeeded, status_code, error, duration_ms,"
                " attempted_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)" + on_conflict
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
        sealed_secret=row["secret"],
        position=int(row["position"]),
        state=row["state"],
        consecutive_failures=int(row["consecutive_failures"]),
        next_attempt_at=float(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=float(row["created_at"]),
        created_by=row["created_by"],
        personal_data=bool(row["personal_data"]),
    )


_T = TypeVar("_T", Delivery, Redelivery)
_CONVERTED: dict[Any, Any] = {"int": int, "float": float, "bool": bool}


def _from_row(cls: type[_T], row: Any) -> _T:
    """A log record from its row, column by field name. Numbers are converted by the field's
    annotation because SQLite keeps booleans as integers and may hand back ``REAL`` columns
    holding whole numbers as integers."""
    values = {}
    for f in fields(cls):
        convert = _CONVERTED.get(f.type)
        values[f.name] = convert(row[f.name]) if convert else row[f.name]
    return cls(**values)


def _delivery(row: Any) -> Delivery:
    return _from_row(Delivery, row)


def _redelivery(row: Any) -> Redelivery:
    return _from_row(Redelivery, row)
