"""Liveness and readiness, unauthenticated so that load balancers can probe them."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AppDep

router = APIRouter(tags=["operations"])


@router.get("/health")
def health(app: AppDep) -> dict[str, object]:
    return {"status": "ok", "head": app.recorder.max_notification_id() or 0}
