"""GET /complaints: the filtered, searchable, paginated complaint list (``complaint_list`` view).

Eventually consistent; pass ``min_position`` (a command's ``position``) to read your own writes.
``GET /complaints/{id}`` stays in ``complaints.py`` and reads the event store directly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from aggregates.vocabulary import Category, Channel, CustomerTier, Severity, Status
from api.blocking import in_thread
from api.deps import Principal, permit
from api.disclosure import Reader, ReaderDep
from api.json_body import json_body
from api.read_models import StoreDep, invalid, waits_for
from commands.input_types import SINGLE_LINE, PlausibleInstant
from commands.permissions import Reach, reach
from projections.store import ReadModelStore
from queries.complaint_list import ComplaintPage, ListFilters, Sort, list_complaints
from queries.errors import InvalidQueryError

router = APIRouter(prefix="/complaints", tags=["complaints"])

# The same text rules as intake (no NUL, which PostgreSQL refuses in a parameter, no control
# characters): a filter can only match what intake could have stored.
Text = Annotated[Annotated[str, SINGLE_LINE] | None, Query(min_length=1, max_length=200)]


@dataclass(frozen=True)
class ListQuery:
    """The list's filters and order as the query string gave them (also ``GET
    /complaints/export``'s)."""

    filters_given: ListFilters
    sort: Sort

    def filters(self, scope: Reach | None) -> ListFilters:
        return replace(self.filters_given, reach=scope)


# ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a hop that costs more
# than building the filters.
async def list_query(
    status: Status | None = None,
    category: Category | None = None,
    severity: Severity | None = None,
    channel: Channel | None = None,
    region: Text = None,
    assignee: Text = None,
    team: Text = None,
    customer_id: Text = None,
    tier: CustomerTier | None = None,
    escalated: bool | None = None,
    filed_from: PlausibleInstant | None = None,
    filed_to: PlausibleInstant | None = None,
    q: Text = None,
    tag: Annotated[
        str | None,
        Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Tagged so now (e.g. legal_risk)"),
    ] = None,
    sort: Sort = "-filed_at",
) -> ListQuery:
    filters = ListFilters(
        status=status.value if status else None,
        category=category.value if category else None,
        severity=severity.value if severity else None,
        channel=channel.value if channel else None,
        region=region,
        assignee=assignee,
        team=team,
        customer_id=customer_id,
        tier=tier.value if tier else None,
        escalated=escalated,
        filed_from=filed_from,
        filed_to=filed_to,
        q=q,
        tag=tag,
    )
    return ListQuery(filters, sort)


ListQueryDep = Annotated[ListQuery, Depends(list_query)]


@router.get("", response_model=ComplaintPage)
async def list_all(
    request: Request,
    store: StoreDep,
    principal: Annotated[Principal, permit("complaint.list")],
    reader: ReaderDep,
    _view: Annotated[None, waits_for("complaint_list")],
    query: ListQueryDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = query.filters(reach("complaint.list", principal.actor))
    # The store is read in asyncio's executor (``api/blocking.py``), not Starlette's thread pool.
    return await in_thread(_page, store, reader, filters, query.sort, limit, cursor)


def _page(
    store: ReadModelStore,
    reader: Reader,
    filters: ListFilters,
    sort: Sort,
    limit: int,
    cursor: str | None,
) -> Response:
    try:
        page = list_complaints(store, filters, sort=sort, limit=limit, cursor=cursor)
        return json_body(reader.complaint_page(page))
    except InvalidQueryError as e:
        raise invalid(e) from None
