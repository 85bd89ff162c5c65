"""GET /workload: open cases per agent and per team (from the ``workload`` view), in pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Principal, permit
from api.read_models import StoreDep, invalid, waits_for
from commands.input_types import SINGLE_LINE
from commands.permissions import reach
from queries.errors import InvalidQueryError
from queries.workload import DEFAULT_LIMIT, MAX_LIMIT, Workload, get_workload

router = APIRouter(tags=["read models"])


@router.get("/workload", response_model=Workload)
def workload(
    store: StoreDep,
    reader: Annotated[Principal, permit("workload.read")],
    _view: Annotated[None, waits_for("workload")],
    team: Annotated[
        Annotated[str, SINGLE_LINE] | None, Query(min_length=1, max_length=200)
    ] = None,
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_LIMIT, description="At most this many agents, and as many teams"),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=4000, description="`next_cursor` of the previous page")
    ] = None,
) -> Workload:
    try:
        return get_workload(
            store, team, limit=limit, cursor=cursor, reach=reach("workload.read", reader.actor)
        )
    except InvalidQueryError as e:
        raise invalid(e) from None
