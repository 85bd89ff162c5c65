"""Probes for load balancers and orchestrators: liveness and readiness, both without a token and
without business figures (the log's head, counts of anything).

- ``/health`` and ``/health/live``: the process answers (no I/O at all).
- ``/health/ready``: the database answers, the tables exist, and no projection is more than
  ``COMPLAINTS_READY_MAX_LAG_EVENTS`` events behind; otherwise 503 with a reason code.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import AppDep, permit
from api.problems import ProblemError
from projections.registry import names
from queries.readiness import not_ready

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

# How soon a prober should ask again when not ready.
RETRY_AFTER_SECONDS = 5


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str


@router.get("/health", response_model=Liveness, dependencies=[permit("health.live")])
async def health() -> Liveness:
    """The process is up and serving (no token; no database query, no business figures)."""
    return Liveness(status="ok")


@router.get("/health/live", response_model=Liveness, dependencies=[permit("health.live")])
async def live() -> Liveness:
    """Liveness for orchestrators: the process answers (no token, no I/O)."""
    return Liveness(status="ok")


@router.get(
    "/health/ready",
    response_model=Readiness,
    dependencies=[permit("health.ready")],
    responses={
        503: {
            "description": "Not ready: `database-unreachable`, `tables-missing` or "
            "`projection-lag` (the problem's `reason`); see Retry-After",
            "content": {"application/problem+json": {}},
        },
    },
)
async def ready(request: Request, app: AppDep) -> Readiness:
    """The database answers, the tables exist, the projections are within
    COMPLAINTS_READY_MAX_LAG_EVENTS of the head (no token, no figures)."""
    state = request.app.state
    reason = await run_in_threadpool(
        not_ready, app, state.read_models, names(), state.settings.ready_max_lag_events
    )
    if reason is not None:
        log.warning("readiness: %s", reason)
        raise ProblemError(
            503, "not-ready", "Not ready", reason, {"Retry-After": str(RETRY_AFTER_SECONDS)},
            reason=reason,
        )
    return Readiness(status="ready")
