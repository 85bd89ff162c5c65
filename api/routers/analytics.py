"""GET /analytics/summary: counts, means and rates over reporting days (``analytics`` view)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request

from aggregates.plausible_time import EARLIEST_DAY
from api.deps import Principal, permit
from api.read_models import StoreDep, invalid, settings_of, waits_for
from commands.input_types import PlausibleDay
from queries.analytics import GroupBy, Summary, analytics_summary
from queries.errors import InvalidQueryError

router = APIRouter(prefix="/analytics", tags=["read models"])

DEFAULT_DAYS = 30


@router.get("/summary", response_model=Summary, response_model_by_alias=True)
def summary(
    request: Request,
    store: StoreDep,
    _: Annotated[Principal, permit("analytics.read")],
    _view: Annotated[None, waits_for("analytics")],
    from_: Annotated[
        PlausibleDay | None,
        Query(alias="from", description="First day (YYYY-MM-DD, reporting time zone)"),
    ] = None,
    to: Annotated[
        PlausibleDay | None,
        Query(description="Last day, inclusive (default: today in the reporting time zone)"),
    ] = None,
    group_by: GroupBy = "category",
    top: Annotated[int, Query(ge=1, le=50)] = 5,
) -> Summary:
    today = datetime.now(ZoneInfo(settings_of(request).report_tz)).date()
    last = to or today
    first = from_ or max(EARLIEST_DAY, last - timedelta(days=DEFAULT_DAYS - 1))
    try:
        return analytics_summary(store, first, last, group_by, top)
    except InvalidQueryError as e:
        raise invalid(e) from None
