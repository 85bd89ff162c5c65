"""GET /workload: open cases per agent and per team (from the ``workload`` view)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import PrincipalDep
from api.read_models import StoreDep, waits_for
from queries.workload import Workload, get_workload

router = APIRouter(tags=["read models"])


@router.get("/workload", response_model=Workload)
def workload(
    request: Request,
    store: StoreDep,
    _: PrincipalDep,
    _view: Annotated[None, waits_for("workload")],
    team: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Workload:
    return get_workload(store, team)
