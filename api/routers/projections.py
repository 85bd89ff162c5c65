"""GET /projections: each read model's position, and its lag behind the event store."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AppDep, PrincipalDep
from api.read_models import StoreDep
from projections.registry import names
from queries.projection_status import ProjectionsStatus, projection_status

router = APIRouter(tags=["operations"])


@router.get("/projections", response_model=ProjectionsStatus)
def projections(app: AppDep, store: StoreDep, _: PrincipalDep) -> ProjectionsStatus:
    return projection_status(app, store, names())
