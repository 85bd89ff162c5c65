"""GET /analytics/summary: counts, means and rates over reporting days (``analytics`` view),
now or as of a past instant (``queries/analytics_as_of.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from api.deps import Principal, permit
from api.read_models import StoreDep, invalid, settings_of, waits_for
from commands.input_types import PlausibleDay, PlausibleInstant
from queries.analytics import DEFAULT_DAYS, GroupBy, Summary, analytics_summary, reporting_days
from queries.analytics_as_of import AnalyticsAsOf, Comparison, SummaryAsOf
from queries.errors import InvalidQueryError

router = APIRouter(prefix="/analytics", tags=["read models"])


def report_days(
    request: Request,
    from_: Annotated[
        PlausibleDay | None,
        Query(alias="from", description="First day (YYYY-MM-DD, reporting time zone; default: "
              f"{DEFAULT_DAYS} days up to `to`)"),
    ] = None,
    to: Annotated[
        PlausibleDay | None,
        Query(description="Last day, inclusive (default: today in the reporting time zone)"),
    ] = None,
) -> tuple[date, date]:
    """The first and last reporting day asked for, defaults filled in (the summary and the
    report page take the same)."""
    return reporting_days(from_, to, settings_of(request).report_tz)


ReportDays = Annotated[tuple[date, date], Depends(report_days)]


@router.get(
    "/summary",
    response_model=Summary | SummaryAsOf | Comparison,
    response_model_by_alias=True,
)
def summary(
    request: Request,
    store: StoreDep,
    _: Annotated[Principal, permit("analytics.read")],
    _view: Annotated[None, waits_for("analytics")],
    days: ReportDays,
    group_by: GroupBy = "category",
    top: Annotated[int, Query(ge=1, le=50)] = 5,
    as_of: Annotated[
        PlausibleInstant | None,
        Query(description="Answer from the events recorded up to this instant (not in the "
              "future): the report as it was then"),
    ] = None,
    compare_to: Annotated[
        Literal["now"] | None,
        Query(description="With `as_of`: both summaries and their differences (now - as_of)"),
    ] = None,
) -> Summary | SummaryAsOf | Comparison:
    first, last = days
    try:
        if as_of is None:
            if compare_to is not None:
                raise InvalidQueryError("compare_to", "needs as_of")
            return analytics_summary(store, first, last, group_by, top)
        if as_of > datetime.now(UTC):
            raise InvalidQueryError("as_of", "must not be in the future")
        past: AnalyticsAsOf = request.app.state.analytics_as_of
        if compare_to == "now":
            return past.compare(store, as_of, first, last, group_by, top)
        return past.summary(as_of, first, last, group_by, top)
    except InvalidQueryError as e:
        raise invalid(e) from None
