"""Tamper evidence (docs/audit.md): verify the hash chain and its checkpoints; list them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from api.blocking import in_thread
from api.deps import permit
from api.problems import problem_responses
from infra.bootstrap import Services
from projections.database import database_of
from queries.audit_verify import VerifyReport, verify_store

router = APIRouter(prefix="/audit", tags=["audit"])

ERRORS = problem_responses({401: "Missing or invalid token", 403: "Not allowed to your role"})


async def get_services(request: Request) -> Services:
    return request.app.state.audit  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


class CheckpointPublic(BaseModel):
    number: int
    position: int
    aggregate_count: int
    event_count: int
    root: str
    algorithm: str
    key_id: str
    signature: str
    recorded_at: datetime
    recorded_by: str


@router.get(
    "/verify",
    response_model=VerifyReport,
    responses=ERRORS,
    dependencies=[permit("audit.verify")],
)
async def verify(
    services: ServicesDep,
    since_checkpoint: Annotated[
        bool,
        Query(description="Verify the latest checkpoint and only the events after it"),
    ] = False,
) -> VerifyReport:
    """Walks the store: every event's hash and link, every checkpoint's root and signature.
    ``ok`` is false when anything broke; each break names the aggregate, version and position,
    what was expected and what was found. The whole store takes seconds per million events."""
    return await in_thread(
        verify_store,
        database_of(services.app),
        services.checkpoints,
        services.audit_key,
        since_checkpoint=since_checkpoint,
    )


@router.get(
    "/checkpoints",
    response_model=list[CheckpointPublic],
    responses=ERRORS,
    dependencies=[permit("audit.checkpoints")],
)
async def checkpoints(services: ServicesDep) -> list[CheckpointPublic]:
    """Every signed checkpoint, oldest first (copy them elsewhere: a copy outside the store is
    what shows a truncation that removed the checkpoints too)."""
    recorded = await in_thread(services.checkpoints.all)
    return [CheckpointPublic.model_validate(c, from_attributes=True) for c in recorded]
