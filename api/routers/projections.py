"""GET /projections: each read model's position, lag and quarantined events;
POST /projections/{name}/retry: apply a projection's quarantined events again (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from api.deps import AppDep, Principal, permit
from api.problems import ProblemError
from api.read_models import StoreDep, settings_of
from commands.input_types import SINGLE_LINE_PATTERN
from projections.registry import FORMER_NAMES, UnknownProjectionError, build, names
from projections.retry import retry_quarantined
from queries.projection_status import (
    ProjectionsStatus,
    QuarantinedEvent,
    projection_status,
    shown,
)

router = APIRouter(tags=["operations"])
PROBLEM: dict[str, object] = {"content": {"application/problem+json": {}}}

RetryDep = Annotated[Principal, permit("projections.retry")]


class RetryResult(BaseModel):
    projection: str
    applied: int
    """Quarantined events applied now (failed ones and those parked behind them)."""
    parked: int
    """Events still held back behind one that still fails."""
    still_failing: list[QuarantinedEvent]


@router.get("/projections", response_model=ProjectionsStatus)
def projections(
    app: AppDep, store: StoreDep, _: Annotated[Principal, permit("projections.read")]
) -> ProjectionsStatus:
    return projection_status(app, store, names())


@router.post(
    "/projections/{name}/retry",
    response_model=RetryResult,
    responses={
        403: {"description": "Not an admin", **PROBLEM},
        404: {"description": "No projection of that name", **PROBLEM},
    },
)
def retry(
    request: Request,
    store: StoreDep,
    _: RetryDep,
    name: Annotated[
        str,
        Path(max_length=100, description=f"A projection's name ({FORMER_NAMES})",
             json_schema_extra={"pattern": SINGLE_LINE_PATTERN}),
    ],
) -> RetryResult:
    """Applies the projection's quarantined events again, in position order; those that still
    fail stay quarantined with one more attempt. Safe while the projection runs. A former name
    (``complaints``) names the projection it became (``complaint_list``)."""
    try:
        [projection] = build([name], report_tz=settings_of(request).report_tz)
    except UnknownProjectionError as unknown:
        raise ProblemError(404, "not-found", "Projection not found", str(unknown)) from None
    report = retry_quarantined(store, projection)
    return RetryResult(
        projection=report.projection, applied=report.applied, parked=report.parked,
        still_failing=[shown(e) for e in report.still_failing],
    )
