"""Webhook subscriptions (admin only): create, inspect, resume, delete, delivery log, redelivery."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from aggregates.vocabulary import Role
from api.deps import AppDep, Principal, require_role
from api.problems import ProblemError
from infra.settings import Settings
from infra.webhook_store import Delivery, Subscription, WebhookStore
from infra.webhooks import redeliver
from queries.event_feed import UnknownEventTypeError, head, topics_for

router = APIRouter(prefix="/subscriptions", tags=["webhooks"])

AdminDep = Annotated[Principal, require_role(Role.ADMIN)]
PROBLEM: dict[str, object] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing or invalid token", **PROBLEM},
    403: {"description": "Not an admin", **PROBLEM},
    404: {"description": "Unknown subscription or delivery", **PROBLEM},
    422: {"description": "Invalid field", **PROBLEM},
}
_store_lock = threading.Lock()


def get_store(request: Request, app: AppDep) -> WebhookStore:
    # Created on first use (it creates its tables), then shared by every request.
    with _store_lock:
        store = getattr(request.app.state, "webhook_store", None)
        if store is None:
            store = request.app.state.webhook_store = WebhookStore(app)
    return store  # type: ignore[no-any-return]


StoreDep = Annotated[WebhookStore, Depends(get_store)]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="Receiver endpoint (http or https): one POST per event")
    types: list[str] = Field(
        default_factory=list, description="Public event types to send; empty means all"
    )
    secret: Annotated[str, StringConstraints(min_length=16, max_length=256)] = Field(
        description="Shared HMAC-SHA256 key; never shown again"
    )
    after: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="Start after this position (0: replay all history); default: only new events",
    )


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


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def public(s: Subscription) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=s.id, url=s.url, types=s.types, state=s.state, position=s.position,
        consecutive_failures=s.consecutive_failures,
        next_attempt_at=_time(s.next_attempt_at) if s.next_attempt_at else None,
        last_error=s.last_error, created_at=_time(s.created_at), created_by=s.created_by,
    )


def public_delivery(d: Delivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=d.id, event_id=d.event_id, position=d.position, type=d.event_type, attempt=d.attempt,
        manual=d.manual, succeeded=d.succeeded, status_code=d.status_code, error=d.error,
        duration_ms=round(d.duration_ms, 3), attempted_at=_time(d.attempted_at),
    )


def found(store: WebhookStore, subscription_id: str) -> Subscription:
    subscription = store.get(subscription_id)
    if subscription is None:
        raise ProblemError(
            404, "not-found", "Subscription not found", f"no subscription with id {subscription_id}"
        )
    return subscription


@router.post("", status_code=201, response_model=SubscriptionPublic, responses=ERRORS)
def create(
    body: SubscriptionCreate, app: AppDep, store: StoreDep, admin: AdminDep, response: Response
) -> SubscriptionPublic:
    types = [t.strip() for t in body.types]
    try:
        topics_for(types)
    except UnknownEventTypeError as e:
        raise ProblemError(
            422, "validation", "Invalid request", f"types: {e}",
            errors=[{"field": "types", "reason": str(e)}],
        ) from None
    subscription = store.add(
        url=str(body.url), types=types, secret=body.secret,
        position=body.after if body.after is not None else head(app), created_by=admin.name,
    )
    response.headers["Location"] = f"/subscriptions/{subscription.id}"
    return public(subscription)


@router.get("", response_model=list[SubscriptionPublic], responses=ERRORS)
def list_all(store: StoreDep, _: AdminDep) -> list[SubscriptionPublic]:
    return [public(s) for s in store.all()]


@router.get("/{subscription_id}", response_model=SubscriptionPublic, responses=ERRORS)
def get_one(subscription_id: str, store: StoreDep, _: AdminDep) -> SubscriptionPublic:
    return public(found(store, subscription_id))


@router.delete("/{subscription_id}", status_code=204, responses=ERRORS)
def delete(subscription_id: str, store: StoreDep, _: AdminDep) -> Response:
    if not store.delete(subscription_id):
        found(store, subscription_id)
    return Response(status_code=204)


@router.post("/{subscription_id}/resume", response_model=SubscriptionPublic, responses=ERRORS)
def resume(subscription_id: str, store: StoreDep, _: AdminDep) -> SubscriptionPublic:
    """Un-pauses the subscription; delivery restarts at the event that kept failing."""
    found(store, subscription_id)
    store.resume(subscription_id)
    return public(found(store, subscription_id))


@router.get(
    "/{subscription_id}/deliveries", response_model=list[DeliveryPublic], responses=ERRORS
)
def deliveries(
    subscription_id: str,
    store: StoreDep,
    _: AdminDep,
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
    response_model=DeliveryPublic,
    responses=ERRORS,
)
def redeliver_one(
    subscription_id: str, delivery_id: str, request: Request, app: AppDep, store: StoreDep,
    _: AdminDep,
) -> DeliveryPublic:
    """Sends that delivery's event again now (logged as manual; the position does not move)."""
    found(store, subscription_id)
    delivery = store.delivery(subscription_id, delivery_id)
    if delivery is None:
        raise ProblemError(
            404, "not-found", "Delivery not found",
            f"no delivery {delivery_id} for this subscription",
        )
    settings: Settings = request.app.state.settings
    try:
        return public_delivery(redeliver(app, settings, store, delivery))
    except LookupError as e:
        raise ProblemError(404, "not-found", "Event not found", str(e)) from None
