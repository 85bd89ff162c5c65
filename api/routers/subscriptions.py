"""Webhook subscriptions (admin only): create, inspect, resume, delete, delivery log, redelivery.

Targets are checked against the SSRF policy (``stream/webhook_targets.py``) when a subscription is
made, for an early 422; the check that counts is repeated on the resolved address at every connect.
URLs never leave the API with credentials in them (older rows may hold some).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, JsonValue, StringConstraints

from api.deps import AppDep, Principal, permit
from api.problems import ProblemError
from commands.input_types import Position
from infra.settings import Settings
from stream.envelope import TYPE_CLASSES
from stream.feed import UnknownEventTypeError, head, read_page, topics_for
from stream.webhook_store import (
    ATTEMPTED,
    Delivery,
    Redelivery,
    RedeliveryQueueFullError,
    Subscription,
    WebhookStore,
)
from stream.webhook_targets import AddressPolicy, UnsafeUrlError, check_url, redacted

router = APIRouter(prefix="/subscriptions", tags=["webhooks"])

AdminDep = Annotated[Principal, permit("subscriptions.manage")]
ReaderDep = Annotated[Principal, permit("subscriptions.read")]
PROBLEM: dict[str, object] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing or invalid token", **PROBLEM},
    403: {"description": "Not an admin", **PROBLEM},
    404: {"description": "Unknown subscription or delivery", **PROBLEM},
    422: {"description": "Invalid field", **PROBLEM},
}
REDELIVERY_ERRORS: dict[int | str, dict[str, object]] = {
    **ERRORS,
    429: {"description": "Too many redeliveries waiting for this subscription", **PROBLEM},
}


async def get_store(request: Request) -> WebhookStore:
    """The API's webhook store (built, its tables created, by ``infra/bootstrap.py``)."""
    return request.app.state.webhook_store  # type: ignore[no-any-return]


StoreDep = Annotated[WebhookStore, Depends(get_store)]


_PUBLIC_TYPES: list[JsonValue] = [*sorted(TYPE_CLASSES)]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="Receiver endpoint (http or https): one POST per event")
    types: list[str] = Field(
        default_factory=list,
        description="Public event types to send; empty means all",
        json_schema_extra={"items": {"type": "string", "enum": _PUBLIC_TYPES}},
    )
    secret: Annotated[
        str, StringConstraints(min_length=16, max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")
    ] = Field(
        description="Shared HMAC-SHA256 key (no control characters); stored sealed, never"
        " shown again"
    )
    after: Position | None = Field(
        default=None,
        description="Start after this position (0: replay all history); default: only new events",
    )
    personal_data: bool = Field(
        default=False,
        description="Send events with their personal fields in clear; by default they are masked "
        "(docs/events.md). Grant it only to receivers entitled to personal data.",
    )


# Ids that are not UUIDs are answered 404 (they can name nothing), control characters 422.
SubscriptionId = Annotated[str, Path(json_schema_extra={"format": "uuid"})]
DeliveryId = Annotated[str, Path(json_schema_extra={"format": "uuid"})]
RedeliveryId = Annotated[str, Path(json_schema_extra={"format": "uuid"})]


class SubscriptionPublic(BaseModel):
    id: str
    url: str
    types: list[str]
    state: str
    position: int
    consecutive_failures: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    created_by: str
    personal_data: bool


class DeliveryPublic(BaseModel):
    id: str
    event_id: str
    position: int
    type: str
    attempt: int
    manual: bool
    succeeded: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    attempted_at: datetime


class RedeliveryPublic(BaseModel):
    id: str = Field(description="Also the id of the delivery it makes, once attempted")
    state: str = Field(description="pending, attempted or abandoned")
    source_delivery_id: str
    event_id: str
    position: int
    type: str
    requested_at: datetime
    requested_by: str
    detail: str | None = Field(description="Why it was abandoned")
    delivery: DeliveryPublic | None = Field(description="The attempt, once made")


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def public(s: Subscription) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=s.id, url=redacted(s.url), types=s.types, state=s.state, position=s.position,
        consecutive_failures=s.consecutive_failures,
        next_attempt_at=_time(s.next_attempt_at) if s.next_attempt_at else None,
        last_error=s.last_error, created_at=_time(s.created_at), created_by=s.created_by,
        personal_data=s.personal_data,
    )


def public_delivery(d: Delivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=d.id, event_id=d.event_id, position=d.position, type=d.event_type, attempt=d.attempt,
        manual=d.manual, succeeded=d.succeeded, status_code=d.status_code, error=d.error,
        duration_ms=round(d.duration_ms, 3), attempted_at=_time(d.attempted_at),
    )


def public_redelivery(r: Redelivery, delivery: Delivery | None) -> RedeliveryPublic:
    return RedeliveryPublic(
        id=r.id, state=r.state, source_delivery_id=r.source_delivery_id, event_id=r.event_id,
        position=r.position, type=r.event_type, requested_at=_time(r.requested_at),
        requested_by=r.requested_by, detail=r.detail,
        delivery=public_delivery(delivery) if delivery is not None else None,
    )


def _is_id(value: str) -> bool:
    # Ids are UUIDs; anything else cannot exist (and a NUL would not even reach PostgreSQL).
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def found(store: WebhookStore, subscription_id: str) -> Subscription:
    subscription = store.get(subscription_id) if _is_id(subscription_id) else None
    if subscription is None:
        raise not_found("Subscription not found", f"no subscription with id {subscription_id}")
    return subscription


def not_found(title: str, detail: str) -> ProblemError:
    return ProblemError(404, "not-found", title, detail)


def invalid(field: str, reason: str) -> ProblemError:
    return ProblemError(
        422, "validation", "Invalid request", f"{field}: {reason}",
        errors=[{"field": field, "reason": reason}],
    )


@router.post("", status_code=201, response_model=SubscriptionPublic, responses=ERRORS)
def create(
    body: SubscriptionCreate, request: Request, app: AppDep, store: StoreDep, admin: AdminDep,
    response: Response,
) -> SubscriptionPublic:
    settings: Settings = request.app.state.settings
    try:
        check_url(str(body.url), AddressPolicy(settings.webhook_allowed_networks))
    except UnsafeUrlError as e:
        raise invalid("url", str(e)) from None
    types = [t.strip() for t in body.types]
    try:
        topics_for(types)
    except UnknownEventTypeError as e:
        raise invalid("types", str(e)) from None
    subscription = store.add(
        url=str(body.url), types=types, secret=body.secret,
        position=body.after if body.after is not None else head(app), created_by=admin.name,
        personal_data=body.personal_data,
    )
    response.headers["Location"] = f"/subscriptions/{subscription.id}"
    return public(subscription)


@router.get("", response_model=list[SubscriptionPublic], responses=ERRORS)
def list_all(store: StoreDep, _: ReaderDep) -> list[SubscriptionPublic]:
    return [public(s) for s in store.all()]


@router.get("/{subscription_id}", response_model=SubscriptionPublic, responses=ERRORS)
def get_one(subscription_id: SubscriptionId, store: StoreDep, _: ReaderDep) -> SubscriptionPublic:
    return public(found(store, subscription_id))


@router.delete("/{subscription_id}", status_code=204, responses=ERRORS)
def delete(subscription_id: SubscriptionId, store: StoreDep, _: AdminDep) -> Response:
    found(store, subscription_id)
    store.delete(subscription_id)
    return Response(status_code=204)


@router.post("/{subscription_id}/resume", response_model=SubscriptionPublic, responses=ERRORS)
def resume(subscription_id: SubscriptionId, store: StoreDep, _: AdminDep) -> SubscriptionPublic:
    """Un-pauses the subscription; delivery restarts at the event that kept failing."""
    found(store, subscription_id)
    store.resume(subscription_id)
    return public(found(store, subscription_id))


@router.get(
    "/{subscription_id}/deliveries", response_model=list[DeliveryPublic], responses=ERRORS
)
def deliveries(
    subscription_id: SubscriptionId,
    store: StoreDep,
    _: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        datetime | None, Query(description="Only attempts before this time (paging back)")
    ] = None,
) -> list[DeliveryPublic]:
    """Delivery attempts, newest first."""
    found(store, subscription_id)
    rows = store.deliveries(
        subscription_id, limit=limit, before=before.timestamp() if before else None
    )
    return [public_delivery(d) for d in rows]


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=RedeliveryPublic,
    responses=REDELIVERY_ERRORS,
)
def redeliver_one(
    subscription_id: SubscriptionId, delivery_id: DeliveryId, request: Request,
    response: Response, app: AppDep,
    store: StoreDep, admin: AdminDep,
) -> RedeliveryPublic:
    """Queues that delivery's event to be sent again (logged as manual; the position does not
    move). The delivery worker makes the attempt, usually within a second; follow Location."""
    found(store, subscription_id)
    delivery = store.delivery(subscription_id, delivery_id) if _is_id(delivery_id) else None
    if delivery is None:
        raise not_found(
            "Delivery not found", f"no delivery {delivery_id} for this subscription"
        )
    settings: Settings = request.app.state.settings
    page = read_page(app, after=delivery.position - 1, limit=1, source=settings.events_source)
    if not page.events or page.events[0]["id"] != delivery.event_id:
        raise not_found(
            "Event not found",
            f"event {delivery.event_id} is no longer at position {delivery.position}",
        )
    try:
        redelivery = store.request_redelivery(delivery, admin.name)
    except RedeliveryQueueFullError as e:
        raise ProblemError(
            429, "too-many-requests", "Too many redeliveries waiting",
            f"{e}; retry once the worker has attempted them", {"Retry-After": "10"},
        ) from None
    response.headers["Location"] = (
        f"/subscriptions/{subscription_id}/redeliveries/{redelivery.id}"
    )
    return public_redelivery(redelivery, None)


@router.get(
    "/{subscription_id}/redeliveries/{redelivery_id}",
    response_model=RedeliveryPublic,
    responses=ERRORS,
)
def redelivery_status(
    subscription_id: SubscriptionId, redelivery_id: RedeliveryId, store: StoreDep, _: ReaderDep
) -> RedeliveryPublic:
    """A requested redelivery: pending, or attempted (with its delivery), or abandoned."""
    found(store, subscription_id)
    redelivery = store.redelivery(subscription_id, redelivery_id) if _is_id(redelivery_id) else None
    if redelivery is None:
        raise not_found(
            "Redelivery not found", f"no redelivery {redelivery_id} for this subscription"
        )
    delivery = (
        store.delivery(subscription_id, redelivery.id) if redelivery.state == ATTEMPTED else None
    )
    return public_redelivery(redelivery, delivery)
