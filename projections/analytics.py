"""Daily analytics buckets per category x channel x region x severity.

Days are cut in the reporting time zone (``COMPLAINTS_REPORT_TZ``) by business time: ``received_at``
for a filing, the event's own time for later actions. Durations are summed as integer milliseconds
with their counts, so a mean over any range is exact and the sums do not depend on batch order.

Definitions (the issue leaves them open):
- first response: the first customer-visible comment; counted on that comment's day, its duration
  measured from ``received_at``;
- resolution: every close counts (a reopened and re-closed complaint closes twice), measured from
  ``received_at`` on the close's day;
- first-contact resolution: a close with no earlier reopen and at most one customer-visible reply;
  a later reopen takes it back (subtracted from the day it was counted on);
- SLA compliance: each SLA clock (the first response; each resolution cycle) is counted once,
  when it ends, on the day of its due instant: ``*_sla_counted`` 1, and ``*_sla_met`` 1 if it was
  met at or before the due instant. A clock ends when it is met (a customer-visible comment or a
  close for the first response, a close for the resolution) or when its breach is recorded,
  whichever comes first; a running or paused clock is not counted yet. Its due instant is the
  one in force when it ends (moved by pauses, or by a re-apply before it ended).
- satisfaction: each survey answer (``SatisfactionRecorded``) on the day it was given, under the
  complaint's category, channel, region and severity: responses, the CSAT sum, satisfied (CSAT 4
  or 5), NPS promoters (9-10) and detractors (0-6).

Imports (issue 13): ``timely_known``/``timely_yes`` count an imported complaint whose source said
whether the company answered in time, on the day it was received; ``product`` (the product's name)
is a dimension of the rollup only.

Two tables hold the same amounts: ``analytics_daily`` per day x category x channel x region x
severity (the full cross product, ~300k rows a year at 200k complaints), and ``analytics_rollup``
per (dimension, day, value), i.e. the daily table summed over all but one dimension, plus dimension
``all`` (value ``""``) for the day's total. The summary reads only the rollup: a year grouped by one
dimension is at most 366 x (its distinct values) rows instead of the whole cross product. Both are
written from the same in-memory buckets in the batch's transaction, so they agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from operator import add, itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from aggregates.complaint import Complaint
from aggregates.vocabulary import SlaMetric, Visibility
from projections.complaint_rows import fold, rows_to_change, topics_of
from projections.projection import Positioned, Projection
from projections.schema import Column, Table, columns
from projections.storable import storable_instant
from projections.store import Tx

NO_REGION = ""
MEASURES = (
    "filed", "closed", "reopened", "first_response_count", "first_response_ms",
    "resolution_ms", "first_contact_resolutions", "first_response_sla_counted",
    "first_response_sla_met", "resolution_sla_counted", "resolution_sla_met",
    # closed loop (issue 12): satisfaction surveys, counted on the day of the answer.
    "survey_responses", "csat_sum", "csat_satisfied", "nps_promoters", "nps_detractors",
    # imports (issue 13): the source's "timely response?" where it said, on the received day.
    "timely_known", "timely_yes",
)
FIRST_RESPONSE, RESOLUTION = SlaMetric.FIRST_RESPONSE.value, SlaMetric.RESOLUTION.value
DIMENSIONS = ("category", "channel", "region", "severity")
ROLLUP_ONLY = ("product",)
"""Dimensions only the rollup has: the product's name is free text with many values, and the
daily cross product would multiply by them."""
NO_PRODUCT = ""
ALL = "all"
"""The rollup's pseudo-dimension for a day's total (its value is ``""``)."""
MEASURE_INDEX = {m: i for i, m in enumerate(MEASURES)}
dimensions_of = itemgetter(*DIMENSIONS, *ROLLUP_ONLY)

ANALYTICS_CASES = Table(
    name="analytics_cases",
    columns=(
        *columns("id uuid"),
        *(Column(d, "text") for d in (*DIMENSIONS, *ROLLUP_ONLY)),
        *columns("received_at timestamp, customer_replies int, reopen_count int, fcr_day date?"),
        # The SLA clocks: the first response's due and end (its meeting, if it came first), the
        # current resolution cycle's.
        *columns(
            "first_response_at timestamp?, first_response_due timestamp?, "
            "first_response_ended bool, resolution_cycle int, resolution_due timestamp?, "
            "resolution_ended bool"
        ),
    ),
    key=("id",),
)

ANALYTICS_DAILY = Table(
    name="analytics_daily",
    columns=(
        Column("day", "date"),
        *(Column(d, "text") for d in DIMENSIONS),
        *(Column(m, "int") for m in MEASURES),
    ),
    key=("day", *DIMENSIONS),
)

ANALYTICS_ROLLUP = Table(
    name="analytics_rollup",
    columns=(
        Column("dimension", "text"),
        Column("day", "date"),
        Column("value", "text"),
        *(Column(m, "int") for m in MEASURES),
    ),
    # dimension before day: a summary reads one dimension over a day range, which is then one
    # contiguous range of the primary key.
    key=("dimension", "day", "value"),
)

BucketKey = tuple[date, str, str, str, str, str]
"""Day, the ``DIMENSIONS`` and the ``ROLLUP_ONLY`` ones."""
Amounts = list[int]
"""A bucket's amounts, in the order of ``MEASURES``: lists rather than Counters, so that summing
them is one ``map(add, ...)`` (a rebuild adds millions of them)."""
DAILY_COLUMNS = ("day", *DIMENSIONS, *MEASURES)
ROLLUP_COLUMNS = ("dimension", "day", "value", *MEASURES)


def milliseconds(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


class AnalyticsProjection(Projection):
    name = "analytics"
    topics = topics_of(
        Complaint.Filed, Complaint.Commented, Complaint.Closed, Complaint.Reopened,
        Complaint.SlaApplied, Complaint.SlaCycleStarted, Complaint.CustomerReplied,
        Complaint.SlaBreached, Complaint.SatisfactionRecorded, Complaint.Imported,
    )
    tables = (ANALYTICS_CASES, ANALYTICS_DAILY, ANALYTICS_ROLLUP)

    def __init__(self, report_tz: str = "UTC") -> None:
        """``report_tz``: the IANA zone days are cut in (``COMPLAINTS_REPORT_TZ``)."""
        self.zone = ZoneInfo(report_tz)

    def day(self, moment: datetime) -> date:
        # Clamped first: an instant near year 1 or 9999 would overflow in the report zone.
        return storable_instant(moment).astimezone(self.zone).date()

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        buckets: dict[BucketKey, Amounts] = {}

        def count(case: dict[str, Any], day: date, **amounts: int) -> None:
            key = (day, *dimensions_of(case))
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = [0] * len(MEASURES)
            for measure, amount in amounts.items():
                bucket[MEASURE_INDEX[measure]] += amount

        def end(case: dict[str, Any], metric: str, met: bool) -> None:
            """The clock of ``metric`` ends (met in time or not): counted on its due's day."""
            case[f"{metric}_ended"] = True
            count(case, self.day(case[f"{metric}_due"]),
                  **{f"{metric}_sla_counted": 1, f"{metric}_sla_met": int(met)})

        def meet(case: dict[str, Any], metric: str, at: datetime) -> None:
            if case[f"{metric}_due"] is not None and not case[f"{metric}_ended"]:
                end(case, metric, at <= case[f"{metric}_due"])

        def transcribe(case: dict[str, Any] | None, p: Positioned) -> dict[str, Any]:
            """The case after the event, counting what the event adds to its day's bucket."""
            e = p.event
            if type(e) is Complaint.Filed:
                case = {
                    "id": e.originator_id, "category": e.category, "channel": e.channel,
                    "region": e.region or NO_REGION, "severity": e.severity,
                    "product": (e.product.get("name") or NO_PRODUCT)[:200],
                    # As stored (clamped), so durations do not depend on how batches are cut.
                    "received_at": storable_instant(e.received_at), "customer_replies": 0,
                    "reopen_count": 0,
                    "fcr_day": None, "first_response_at": None, "first_response_due": None,
                    "first_response_ended": False, "resolution_cycle": 1,
                    "resolution_due": None, "resolution_ended": False,
                }
                count(case, self.day(e.received_at), filed=1)
                return case
            assert case is not None
            if isinstance(e, Complaint.Commented):
                if e.visibility == Visibility.CUSTOMER.value:
                    case["customer_replies"] += 1
                    if case["customer_replies"] == 1:
                        case["first_response_at"] = e.timestamp
                        meet(case, FIRST_RESPONSE, e.timestamp)
                        count(
                            case, self.day(e.timestamp), first_response_count=1,
                            first_response_ms=milliseconds(e.timestamp - case["received_at"]),
                        )
            elif isinstance(e, Complaint.Closed):
                closed = e.closed_time  # business time: an import's closes at their dates
                day = self.day(closed)
                fcr = case["reopen_count"] == 0 and case["customer_replies"] <= 1
                count(
                    case, day, closed=1,
                    resolution_ms=milliseconds(closed - case["received_at"]),
                    first_contact_resolutions=int(fcr),
                )
                if fcr:
                    case["fcr_day"] = day
                meet(case, FIRST_RESPONSE, closed)
                meet(case, RESOLUTION, closed)
            elif isinstance(e, Complaint.Reopened):
                count(case, self.day(e.timestamp), reopened=1)
                if case["fcr_day"] is not None:
                    count(case, case["fcr_day"], first_contact_resolutions=-1)
                    case["fcr_day"] = None
                case["reopen_count"] += 1
                case["resolution_cycle"] += 1
                case["resolution_due"], case["resolution_ended"] = None, False
            elif isinstance(e, Complaint.SlaApplied):
                if not case["first_response_ended"]:
                    case["first_response_due"] = storable_instant(e.first_response_due_at)
                    if case["first_response_at"] is not None:  # answered before the clocks
                        meet(case, FIRST_RESPONSE, case["first_response_at"])
                if e.resolution_cycle != case["resolution_cycle"]:
                    case["resolution_cycle"], case["resolution_ended"] = e.resolution_cycle, False
                if not case["resolution_ended"]:
                    case["resolution_due"] = storable_instant(e.resolution_due_at)
            elif isinstance(e, Complaint.SlaCycleStarted):
                if e.metric == RESOLUTION:
                    case["resolution_cycle"], case["resolution_ended"] = e.cycle, False
                    case["resolution_due"] = storable_instant(e.due_at)
            elif isinstance(e, Complaint.CustomerReplied):
                if e.resolution_due_at is not None and not case["resolution_ended"]:
                    case["resolution_due"] = storable_instant(e.resolution_due_at)
            elif isinstance(e, Complaint.Imported):
                if e.timely_response is not None:
                    count(case, self.day(case["received_at"]), timely_known=1,
                          timely_yes=int(e.timely_response))
            elif isinstance(e, Complaint.SatisfactionRecorded):
                count(
                    case, self.day(e.timestamp), survey_responses=1, csat_sum=e.csat,
                    csat_satisfied=int(e.csat >= 4), nps_promoters=int(e.nps >= 9),
                    nps_detractors=int(e.nps <= 6),
                )
            elif isinstance(e, Complaint.SlaBreached):
                current = e.metric == FIRST_RESPONSE or e.cycle == case["resolution_cycle"]
                if current and case[f"{e.metric}_due"] is not None and not case[
                    f"{e.metric}_ended"
                ]:
                    end(case, e.metric, False)
            return case

        cases = rows_to_change(tx, ANALYTICS_CASES, events)
        fold(cases, events, transcribe)
        tx.upsert(ANALYTICS_CASES, list(cases.values()))
        days = daily(buckets)
        tx.add(ANALYTICS_DAILY, rows_of(DAILY_COLUMNS, days))
        tx.add(ANALYTICS_ROLLUP, rows_of(ROLLUP_COLUMNS, rollup(buckets, days)))


def rows_of(names: Sequence[str], amounts: dict[Any, Amounts]) -> list[dict[str, Any]]:
    """Rows of the key's values and then the amounts, named by ``names``."""
    return [dict(zip(names, (*key, *values), strict=True)) for key, values in amounts.items()]


def daily(buckets: dict[BucketKey, Amounts]) -> dict[tuple[Any, ...], Amounts]:
    """The buckets summed over the ``ROLLUP_ONLY`` dimensions: the daily table's rows."""
    rows: dict[tuple[Any, ...], Amounts] = {}
    width = 1 + len(DIMENSIONS)
    for key, amounts in buckets.items():
        short = key[:width]
        row = rows.get(short)
        rows[short] = amounts.copy() if row is None else list(map(add, row, amounts))
    return rows


def rollup(
    buckets: dict[BucketKey, Amounts], days: dict[tuple[Any, ...], Amounts]
) -> dict[tuple[str, date, str], Amounts]:
    """The buckets summed per (dimension, day, value), plus each day's total under ``ALL``.

    Summed from the daily rows (``days``: ``daily(buckets)``, already summed over the
    ``ROLLUP_ONLY`` dimensions, so several times fewer) for the ``DIMENSIONS`` and the total, and
    from the buckets for the ``ROLLUP_ONLY`` ones: the same sums. Every bucket contributes to a row
    of each dimension, so a rollup row exists exactly when a daily row with that day and value
    does (same groups, even all-zero ones, as summing the daily table would give).
    """
    rows: dict[tuple[str, date, str], Amounts] = {}

    def add_to(key: tuple[str, date, str], amounts: Amounts) -> None:
        row = rows.get(key)
        rows[key] = amounts.copy() if row is None else list(map(add, row, amounts))

    for (day, *values), amounts in days.items():
        for dimension, value in (*zip(DIMENSIONS, values, strict=True), (ALL, "")):
            add_to((dimension, day, value), amounts)
    for (day, *values), amounts in buckets.items():
        for dimension, value in zip(ROLLUP_ONLY, values[len(DIMENSIONS) :], strict=True):
            add_to((dimension, day, value), amounts)
    return rows
