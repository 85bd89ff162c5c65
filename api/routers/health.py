"""Liveness (anyone) and readiness (any token).

``/health`` is for load balancers and process supervisors: it answers from memory and tells
nothing about the business. The log head (how many events the business has recorded) is a
business figure, so it moves to ``/health/ready``, which needs a token and also proves that the
database answers.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import AppDep, permit
from api.problems import ProblemError

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

# How soon a prober should ask again when the database did not answer.
RETRY_AFTER_SECONDS = 5


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    head: int
    """Position of the last record in the event store's log."""


@router.get("/health", response_model=Liveness, dependencies=[permit("health.live")])
async def health() -> Liveness:
    """The process is up and serving (no token; no database query, no business figures)."""
    return Liveness(status="ok")


@router.get(
    "/health/ready",
    response_model=Readiness,
    dependencies=[permit("health.ready")],
    responses={
        503: {
            "description": "The database did not answer; see Retry-After",
            "content": {"application/problem+json": {}},
        },
    },
)
async def ready(app: AppDep) -> Readiness:
    """The database answers; `head` is the log's last position (any token)."""
    try:
        head = await run_in_threadpool(app.recorder.max_notification_id)
    except Exception as e:  # any driver error means "not ready"; the reason is for the log only
        log.warning("readiness: the event store did not answer: %s", type(e).__name__)
        raise ProblemError(
            503,
            "not-ready",
            "Not ready",
            "the event store did not answer",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    return Readiness(status="ready", head=head or 0)
