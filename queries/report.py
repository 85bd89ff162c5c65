"""The figures of the summary report (``complaints report``, ``GET /reports/summary.html``), as
plain data: one function, ``summary_report``, gathers everything the charts show, so a new measure
is one more field here and one more chart in ``api/report_html.py``.

From the ``analytics`` view (through ``analytics_summary``, so the figures are the summary's):
filed, closed and SLA compliance per period, and the totals, per category and per channel.
From the ``complaint_list`` view (one row per complaint): per-complaint durations for the
distributions, and the products.

- first response: complaints whose first customer-visible reply falls in the period, measured
  from ``received_at`` (the analytics view's definition: same count and mean);
- resolution: complaints closed in the period and still closed, from ``received_at`` to their
  last close. The analytics view counts every close, also those a reopen undid, so where
  complaints were reopened its count and mean can differ;
- products: complaints received in the period per product name (``received_at``, as ``filed``).

Days are calendar days in the reporting zone, both inclusive, as in the summary.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from projections.complaint_list import COMPLAINT_LIST
from projections.store import ReadModelStore, Tx
from queries.analytics import Figures, Group, analytics_summary

Period = Literal["day", "week", "month"]
DAILY_UP_TO_DAYS = 62
"""Without a ``group_by``, ranges up to this long are shown per day, longer ones per week."""

DURATION_BINS_HOURS = (1, 4, 8, 24, 48, 72, 24 * 7, 24 * 14, 24 * 30)
"""Upper edges (exclusive) of the distributions' bins, in hours; a last bin holds the rest.
Uneven on purpose: answers within the hour and cases open for weeks both matter."""


class Bin(BaseModel):
    label: str = Field(description='e.g. "4-8 h", "≥ 30 d"')
    count: int


class Distribution(BaseModel):
    count: int
    mean_seconds: float | None
    median_seconds: float | None
    bins: list[Bin]


class ProductCount(BaseModel):
    product: str | None = Field(description="The product name as filed; null when none was given")
    filed: int


class SummaryReport(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    zone: str
    generated_at: datetime
    group_by: Period
    totals: Figures
    periods: list[Group] = Field(description="Filed, closed, SLA compliance per period")
    categories: list[Group] = Field(description="Per category, most filed first")
    channels: list[Group] = Field(description="Per channel, most filed first")
    first_response: Distribution
    resolution: Distribution
    top_products: list[ProductCount]


def default_period(first: date, last: date) -> Period:
    return "day" if (last - first).days < DAILY_UP_TO_DAYS else "week"


def _label(hours: float) -> str:
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:g} d"


def bin_labels() -> list[str]:
    lower = [0, *DURATION_BINS_HOURS]
    labels = [f"{_label(a)}–{_label(b)}" if a else f"< {_label(b)}"
              for a, b in zip(lower, DURATION_BINS_HOURS, strict=False)]
    return [*labels, f"≥ {_label(DURATION_BINS_HOURS[-1])}"]


def distribution(seconds: list[float]) -> Distribution:
    counts = [0] * (len(DURATION_BINS_HOURS) + 1)
    for s in seconds:
        hours = s / 3600
        counts[next((i for i, edge in enumerate(DURATION_BINS_HOURS) if hours < edge), -1)] += 1
    ordered = sorted(seconds)
    n = len(ordered)
    median = None
    if n:
        median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return Distribution(
        count=n,
        mean_seconds=sum(ordered) / n if n else None,
        median_seconds=median,
        bins=[Bin(label=label, count=c) for label, c in zip(bin_labels(), counts, strict=True)],
    )


def _most_filed(groups: list[Group]) -> list[Group]:
    return sorted(groups, key=lambda g: (-g.filed, g.key or ""))


def summary_report(
    store: ReadModelStore,
    first: date,
    last: date,
    zone: str,
    group_by: Period | None = None,
    top: int = 10,
    now: datetime | None = None,
) -> SummaryReport:
    """The report of the days ``first`` to ``last`` (inclusive) in ``zone``; raises
    ``InvalidQueryError`` (naming ``from`` or ``to``) as ``analytics_summary`` does."""
    period = group_by or default_period(first, last)
    by_period = analytics_summary(store, first, last, period)  # validates the range first
    categories = analytics_summary(store, first, last, "category")
    channels = analytics_summary(store, first, last, "channel")
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    dialect = store.dialect
    table = dialect.table(COMPLAINT_LIST.name)
    bounds = [dialect.encode("timestamp", start), dialect.encode("timestamp", end)]

    def durations(tx: Tx, column: str) -> list[float]:
        rows = tx.rows(
            f"SELECT received_at, {column} AS ended FROM {table} "
            f"WHERE {column} >= %s AND {column} < %s",
            bounds,
        )
        return [
            (dialect.decode("timestamp", r["ended"])
             - dialect.decode("timestamp", r["received_at"])).total_seconds()
            for r in rows
        ]

    with store.read() as tx:
        first_responses = durations(tx, "first_response_at")
        resolutions = durations(tx, "closed_at")
        products = tx.rows(
            f"SELECT product_name AS product, count(*) AS filed FROM {table} "
            "WHERE received_at >= %s AND received_at < %s GROUP BY product_name "
            "ORDER BY count(*) DESC, product_name LIMIT %s",
            [*bounds, top],
        )
    return SummaryReport(
        from_=first,
        to=last,
        zone=zone,
        generated_at=(now or datetime.now(tz)).astimezone(tz),
        group_by=period,
        totals=by_period.totals,
        periods=by_period.groups,
        categories=_most_filed(categories.groups),
        channels=_most_filed(channels.groups),
        first_response=distribution(first_responses),
        resolution=distribution(resolutions),
        top_products=[ProductCount(product=r["product"], filed=int(r["filed"])) for r in products],
    )
