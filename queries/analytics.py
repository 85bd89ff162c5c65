"""The analytics summary over a range of reporting days, from the ``analytics`` view.

``from`` and ``to`` are calendar days in the reporting time zone, both inclusive. Rates are over
closures: first-contact resolution rate = first-contact resolutions / closed, reopen rate =
reopened / closed; SLA compliance (``first_response_met_rate``, ``resolution_met_rate``) = clocks
met by their due / clocks ended, counted on the day of their due instant
(``projections/analytics.py``); means and rates are null when nothing was counted. Satisfaction:
``mean_csat``, ``csat_satisfied_percent`` (CSAT 4-5) and ``nps`` (% promoters 9-10 minus %
detractors 0-6) over the surveys answered in the period.

Reads ``analytics_rollup`` only (one dimension's rows, or the per-day totals for day/week/month),
never the full cross product in ``analytics_daily``: a year is at most 366 x (distinct values)
rows, which keeps a year's summary in the low milliseconds at 200k complaints.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from aggregates.plausible_time import DAY_RANGE, EARLIEST_DAY, is_plausible_day
from projections.analytics import ALL, ANALYTICS_ROLLUP, MEASURES
from projections.store import ReadModelStore
from queries.errors import InvalidQueryError

DEFAULT_DAYS = 30
"""A summary or report asked without ``from`` covers this many days up to ``to``."""


def reporting_days(first: date | None, last: date | None, zone: str) -> tuple[date, date]:
    """The first and last reporting day asked for, defaults filled in: ``last`` today in
    ``zone``, ``first`` ``DEFAULT_DAYS`` up to it (the summary, the report page and its CLI)."""
    last = last or datetime.now(ZoneInfo(zone)).date()
    return first or max(EARLIEST_DAY, last - timedelta(days=DEFAULT_DAYS - 1)), last


GroupBy = Literal[
    "category", "channel", "region", "severity", "product", "day", "week", "month"
]
MAX_DAYS = 3 * 366


class Figures(BaseModel):
    filed: int
    closed: int
    reopened: int
    mean_first_response_seconds: float | None
    mean_resolution_seconds: float | None
    first_contact_resolution_rate: float | None
    reopen_rate: float | None
    first_response_met_rate: float | None = Field(
        description="Of the first-response clocks due in the period that have ended (met, or "
        "a breach recorded), the share met by their due instant"
    )
    resolution_met_rate: float | None = Field(
        description="Of the resolution clocks (one per cycle) due in the period that have "
        "ended, the share met (closed) by their due instant"
    )
    survey_responses: int = Field(description="Satisfaction surveys answered in the period")
    mean_csat: float | None = Field(description="Mean CSAT (1-5) of those answers")
    csat_satisfied_percent: float | None = Field(
        description="Percentage of answers with CSAT 4 or 5"
    )
    nps: float | None = Field(
        description="Net promoter score, -100 to 100: % promoters (9-10) - % detractors (0-6)"
    )
    timely_response_share: float | None = Field(
        default=None,
        description="Of the imported complaints received in the period whose source said "
        "whether the company responded in time, the share that did (null: none said)",
    )


class Group(Figures):
    key: str | None


class CategoryCount(BaseModel):
    category: str
    filed: int


class Summary(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    group_by: GroupBy
    groups: list[Group]
    totals: Figures
    top_categories: list[CategoryCount]


def figures(sums: Mapping[str, int]) -> dict[str, Any]:
    closed = sums["closed"]
    responses = sums["survey_responses"]

    def ratio(numerator: int, denominator: int, scale: float = 1.0) -> float | None:
        return numerator / denominator / scale if denominator else None

    return {
        "filed": sums["filed"],
        "closed": closed,
        "reopened": sums["reopened"],
        "mean_first_response_seconds": ratio(
            sums["first_response_ms"], sums["first_response_count"], 1000.0
        ),
        "mean_resolution_seconds": ratio(sums["resolution_ms"], closed, 1000.0),
        "first_contact_resolution_rate": ratio(sums["first_contact_resolutions"], closed),
        "reopen_rate": ratio(sums["reopened"], closed),
        "first_response_met_rate": ratio(
            sums["first_response_sla_met"], sums["first_response_sla_counted"]
        ),
        "resolution_met_rate": ratio(sums["resolution_sla_met"], sums["resolution_sla_counted"]),
        "survey_responses": responses,
        "mean_csat": ratio(sums["csat_sum"], responses),
        "csat_satisfied_percent": ratio(100 * sums["csat_satisfied"], responses),
        "nps": ratio(100 * (sums["nps_promoters"] - sums["nps_detractors"]), responses),
        "timely_response_share": ratio(sums["timely_yes"], sums["timely_known"]),
    }


def period_key(day: date, group_by: str) -> str:
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def analytics_summary(
    store: ReadModelStore, first: date, last: date, group_by: GroupBy = "category", top: int = 5
) -> Summary:
    for day, field in ((first, "from"), (last, "to")):
        if not is_plausible_day(day):
            raise InvalidQueryError(field, f"must be {DAY_RANGE}")
    if last < first:
        raise InvalidQueryError("to", "must not be before from")
    if (last - first).days >= MAX_DAYS:
        raise InvalidQueryError("from", f"the range is limited to {MAX_DAYS} days")
    dialect = store.dialect
    table = dialect.table(ANALYTICS_ROLLUP.name)
    by_time = group_by in {"day", "week", "month"}
    # Periods are summed from the per-day totals (dimension ALL); a dimension from its own rows.
    dimension, column = (ALL, "day") if by_time else (group_by, "value")
    sums = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
    bounds = [dialect.encode("date", first), dialect.encode("date", last)]
    in_range = "dimension = %s AND day >= %s AND day <= %s"
    with store.read() as tx:
        rows = tx.rows(
            f"SELECT {column} AS key, {sums} FROM {table} WHERE {in_range} GROUP BY {column}",
            [dimension, *bounds],
        )
        top_rows = tx.rows(
            f"SELECT value AS category, sum(filed) AS filed FROM {table} WHERE {in_range} "
            "GROUP BY value ORDER BY sum(filed) DESC, value LIMIT %s",
            ["category", *bounds, top],
        )
    # Plain dicts, not Counters: a year by day folds 366 rows, and Counter.update was most of
    # the Python time.
    groups: dict[str | None, dict[str, int]] = {}
    totals = dict.fromkeys(MEASURES, 0)
    for row in rows:
        if by_time:
            key: str | None = period_key(dialect.decode("date", row["key"]), group_by)
        else:
            key = row["key"] or None  # the view stores a missing region as ""
        group = groups.get(key)
        if group is None:
            group = groups[key] = dict.fromkeys(MEASURES, 0)
        for m in MEASURES:
            amount = int(row[m] or 0)
            group[m] += amount
            totals[m] += amount
    return Summary(
        from_=first,
        to=last,
        group_by=group_by,
        groups=[
            Group(key=key, **figures(amounts))
            for key, amounts in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        ],
        totals=Figures(**figures(totals)),
        top_categories=[
            CategoryCount(category=r["category"], filed=int(r["filed"] or 0)) for r in top_rows
        ],
    )
