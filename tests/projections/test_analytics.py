"""The analytics rollup: every ``group_by`` of the summary equals figures computed from the events,
and the rollup table equals the daily cross-product table summed over the other dimensions."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from commands.application import ComplaintsApp
from infra.settings import Settings
from projections.analytics import ALL, ANALYTICS_DAILY, ANALYTICS_ROLLUP, DIMENSIONS, MEASURES
from projections.registry import build
from projections.runner import Runner
from queries.analytics import Figures, GroupBy, Summary, analytics_summary, period_key
from tests.projections.history import generate

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP_BYS: tuple[GroupBy, ...] = get_args(GroupBy)
RANGES = ((date(2025, 1, 1), date(2025, 12, 31)), (date(2025, 3, 1), date(2025, 5, 31)))

# What a counted fact is grouped under: (the complaint's filing, the day the fact is counted on).
KeyOf = Callable[[Complaint.Filed, date], str | None]


@pytest.fixture
def history(app: ComplaintsApp, report_settings: Settings) -> Runner:
    """600 complaints over 2025; the view follows along in small, unevenly cut batches."""
    live = Runner(app, build(report_settings, ["analytics"]), page_size=89)
    generate(app, 600, seed=5, rounds=8, after_round=lambda _: live.catch_up())
    live.catch_up()
    return live


def key_of(group_by: GroupBy) -> KeyOf:
    if group_by in DIMENSIONS:
        return lambda filing, _: getattr(filing, group_by) or None
    return lambda _, day: period_key(day, group_by)


def figures_from_events(
    app: ComplaintsApp, first: date, last: date, key: KeyOf
) -> dict[str | None, Counter[str]]:
    """The summary's sums per group, straight from the stored events (independent of the view)."""
    topics = [get_topic(c) for c in (Complaint.Filed, Complaint.Commented, Complaint.Closed,
                                     Complaint.Reopened)]
    by_complaint: dict[object, list[Any]] = defaultdict(list)
    start = 1
    while page := app.recorder.select_notifications(start, limit=1000, topics=topics):
        for n in page:
            event = app.mapper.to_domain_event(n)
            by_complaint[event.originator_id].append(event)
        start = page[-1].id + 1

    result: dict[str | None, Counter[str]] = defaultdict(Counter)

    def count(filing: Complaint.Filed, moment: datetime, **amounts: int) -> None:
        day = moment.astimezone(SHANGHAI).date()
        if first <= day <= last:
            result[key(filing, day)].update(amounts)

    for events in by_complaint.values():
        filing = events[0]
        assert isinstance(filing, Complaint.Filed)
        count(filing, filing.received_at, filed=1)
        replies = 0
        for e in events[1:]:
            elapsed = (e.timestamp - filing.received_at) // timedelta(milliseconds=1)
            if isinstance(e, Complaint.Commented) and e.visibility == "customer":
                replies += 1
                if replies == 1:
                    count(filing, e.timestamp, first_response_count=1, first_response_ms=elapsed)
            elif isinstance(e, Complaint.Closed):
                # A reopen before the close prevents its FCR, one after it withdraws it.
                fcr = replies <= 1 and not any(isinstance(x, Complaint.Reopened) for x in events)
                count(filing, e.timestamp, closed=1, resolution_ms=elapsed, fcr=int(fcr))
            elif isinstance(e, Complaint.Reopened):
                count(filing, e.timestamp, reopened=1)
    return result


def assert_figures(got: Figures, sums: Counter[str]) -> None:
    assert (got.filed, got.closed, got.reopened) == (
        sums["filed"], sums["closed"], sums["reopened"]
    )
    closed, responses = sums["closed"], sums["first_response_count"]
    assert got.mean_resolution_seconds == (
        pytest.approx(sums["resolution_ms"] / closed / 1000) if closed else None
    )
    assert got.first_contact_resolution_rate == (
        pytest.approx(sums["fcr"] / closed) if closed else None
    )
    assert got.reopen_rate == (pytest.approx(sums["reopened"] / closed) if closed else None)
    assert got.mean_first_response_seconds == (
        pytest.approx(sums["first_response_ms"] / responses / 1000) if responses else None
    )


@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_every_group_by_equals_figures_from_events(
    history: Runner, app: ComplaintsApp, group_by: GroupBy
) -> None:
    for first, last in RANGES:
        summary = analytics_summary(history.store, first, last, group_by, top=3)
        expected = figures_from_events(app, first, last, key_of(group_by))
        got = {g.key: g for g in summary.groups}
        assert set(got) == set(expected)
        for key, sums in expected.items():
            assert_figures(got[key], sums)
        everything: Counter[str] = Counter()
        for sums in expected.values():
            everything.update(sums)
        assert_figures(summary.totals, everything)


def daily_summary(runner: Runner, first: date, last: date) -> dict[str, dict[str, int]]:
    """Sums per dimension value and in total from ``analytics_daily`` (what the summary read
    before the rollup existed)."""
    result: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for row in runner.store.snapshot(ANALYTICS_DAILY):
        if first <= row["day"] <= last:
            for dimension in (*DIMENSIONS, ALL):
                sums = result[f"{dimension}:{row[dimension] if dimension != ALL else ''}"]
                for m in MEASURES:
                    sums[m] += row[m]
    return dict(result)


def test_totals_agree_across_group_bys_and_with_the_daily_table(history: Runner) -> None:
    for first, last in RANGES:
        summaries: dict[str, Summary] = {
            g: analytics_summary(history.store, first, last, g) for g in GROUP_BYS
        }
        assert all(s.totals == summaries["day"].totals for s in summaries.values())
        daily = daily_summary(history, first, last)
        assert summaries["category"].totals.filed == daily[f"{ALL}:"]["filed"]
        assert summaries["category"].totals.closed == daily[f"{ALL}:"]["closed"]
        for dimension in DIMENSIONS:
            for group in summaries[dimension].groups:
                sums = daily[f"{dimension}:{group.key or ''}"]
                assert (group.filed, group.closed, group.reopened) == (
                    sums["filed"], sums["closed"], sums["reopened"]
                )


def test_rollup_is_the_daily_table_summed_per_dimension(history: Runner) -> None:
    expected: dict[tuple[str, date, str], dict[str, int]] = {}
    for row in history.store.snapshot(ANALYTICS_DAILY):
        for dimension in (*DIMENSIONS, ALL):
            value = row[dimension] if dimension != ALL else ""
            sums = expected.setdefault(
                (dimension, row["day"], value), dict.fromkeys(MEASURES, 0)
            )
            for m in MEASURES:
                sums[m] += row[m]
    got = {
        (r["dimension"], r["day"], r["value"]): {m: r[m] for m in MEASURES}
        for r in history.store.snapshot(ANALYTICS_ROLLUP)
    }
    assert expected and got == expected
