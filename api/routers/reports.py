"""``GET /reports/summary.html``: the summary report as a self-contained page of charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from aggregates.plausible_time import EARLIEST_DAY
from api.deps import Principal, permit
from api.problems import problem_responses
from api.read_models import StoreDep, invalid, settings_of, waits_for
from api.report_html import render_report
from api.routers.analytics import DEFAULT_DAYS
from commands.input_types import PlausibleDay
from queries.errors import InvalidQueryError
from queries.report import Period, summary_report

router = APIRouter(prefix="/reports", tags=["read models"])


@router.get(
    "/summary.html",
    response_class=HTMLResponse,
    responses=problem_responses(
        {401: "Missing or invalid token", 403: "Not allowed to your role",
         422: "A bad parameter (named)"}
    ),
)
def summary_page(
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
    group_by: Annotated[
        Period | None,
        Query(description="Periods of the trend charts (default: day up to 62 days, else week)"),
    ] = None,
    top: Annotated[int, Query(ge=1, le=50, description="Products shown")] = 10,
) -> HTMLResponse:
    """Charts of the period: volume trend, category Pareto, channel mix, first-response and
    resolution time distributions, SLA compliance, top products (docs/api.md, "Reports"). The
    figures are those of GET /analytics/summary for the same days."""
    zone = settings_of(request).report_tz
    today = datetime.now(ZoneInfo(zone)).date()
    last = to or today
    first = from_ or max(EARLIEST_DAY, last - timedelta(days=DEFAULT_DAYS - 1))
    try:
        report = summary_report(store, first, last, zone, group_by, top)
    except InvalidQueryError as e:
        raise invalid(e) from None
    return HTMLResponse(render_report(report))
