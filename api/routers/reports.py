"""``GET /reports/summary.html``: the summary report as a self-contained page of charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import Principal, permit
from api.problems import problem_responses
from api.read_models import StoreDep, invalid, settings_of, waits_for
from api.report_html import render_report
from api.routers.analytics import ReportDays
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
    days: ReportDays,
    group_by: Annotated[
        Period | None,
        Query(description="Periods of the trend charts (default: day up to 62 days, else week)"),
    ] = None,
    top: Annotated[int, Query(ge=1, le=50, description="Products shown")] = 10,
) -> HTMLResponse:
    """Charts of the period: volume trend, category Pareto, channel mix, first-response and
    resolution time distributions, SLA compliance, top products (docs/api.md, "Reports"). The
    figures are those of GET /analytics/summary for the same days."""
    first, last = days
    try:
        report = summary_report(
            store, first, last, settings_of(request).report_tz, group_by, top
        )
    except InvalidQueryError as e:
        raise invalid(e) from None
    return HTMLResponse(render_report(report))
