"""The analytics rollup: every ``group_by`` of the summary, and the daily table, equal what the
oracle counts from the events (``tests/projections/oracle.py``); the rollup table equals the
daily cross-product table summed over the other dimensions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest

from infra.bootstrap import Services
from infra.settings import Settings
from projections.analytics import (
    ALL,
    ANALYTICS_DAILY,
    ANALYTICS_ROLLUP,
    DIMENSIONS,
    ROLLUP_ONLY,
)
from projections.registry import build
from projections.runner import Runner
from queries.analytics import GroupBy, Summary, analytics_summary
from tests.projections.history import generate
from tests.projections.oracle import MEASURES, Oracle, RollupKey, rollup, rows_by

GROUP_BYS: tuple[GroupBy, ...] = get_args(GroupBy)
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the report zone of ``report_settings``
RANGES = (
    (date(2025, 1, 1), date(2025, 12, 31)),
    (date(2025, 3, 1), date(2025, 5, 31)),
    # The generator files with past ``received_at``s but acts now: responses, closes and
    # reopens are all counted today.
    (TODAY - timedelta(days=365), TODAY),
)
SUMMARY_PARTS = {"groups", "totals", "top_categories"}


@pytest.fixture(scope="module")
def history(module_services: Services, module_report_settings: Settings) -> Runner:
    """600 complaints over 2025, a third imported (timely flags, closes at business times); the
    view follows along in small, unevenly cut batches. Once per store: the tests only read it."""
    app = module_services.app
    live = Runner(app, build(["analytics"], report_tz=module_report_settings.report_tz),
                  page_size=89)
    generate(app, 600, seed=5, rounds=8, after_round=lambda _: live.catch_up(), imports=True)
    live.catch_up()
    return live


@pytest.fixture(scope="module")
def oracle(
    module_services: Services, history: Runner, module_report_settings: Settings
) -> Oracle:
    return Oracle.of(module_services.app, module_report_settings.report_tz)


@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_every_group_by_equals_the_oracle(
    history: Runner, oracle: Oracle, group_by: GroupBy
) -> None:
    for first, last in RANGES:
        summary = analytics_summary(history.store, first, last, group_by, top=3)
        assert summary.model_dump(include=SUMMARY_PARTS) == oracle.summary(
            first, last, group_by, top=3
        )


def test_the_daily_table_equals_the_oracle(history: Runner, oracle: Oracle) -> None:
    daily = rows_by(history.store.snapshot(ANALYTICS_DAILY), "day", *DIMENSIONS)
    assert daily == oracle.analytics_daily()


def in_range(
    rollup_rows: Mapping[RollupKey, Mapping[str, Any]], first: date, last: date
) -> dict[str, dict[str, int]]:
    """Rollup rows summed over the days of a range, per ``dimension:value``."""
    result: dict[str, dict[str, int]] = {}
    for (dimension, day, value), row in rollup_rows.items():
        if first <= day <= last:
            sums = result.setdefault(f"{dimension}:{value}", dict.fromkeys(MEASURES, 0))
            for m in MEASURES:
                sums[m] += row[m]
    return result


def test_totals_agree_across_group_bys_and_with_the_daily_table(history: Runner) -> None:
    daily_rows = history.store.snapshot(ANALYTICS_DAILY)
    for first, last in RANGES:
        summaries: dict[str, Summary] = {
            g: analytics_summary(history.store, first, last, g) for g in GROUP_BYS
        }
        assert all(s.totals == summaries["day"].totals for s in summaries.values())
        daily = in_range(rollup(daily_rows), first, last)
        assert summaries["category"].totals.filed == daily[f"{ALL}:"]["filed"]
        assert summaries["category"].totals.closed == daily[f"{ALL}:"]["closed"]
        for dimension in DIMENSIONS:
            for group in summaries[dimension].groups:
                sums = daily[f"{dimension}:{group.key or ''}"]
                assert (group.filed, group.closed, group.reopened) == (
                    sums["filed"], sums["closed"], sums["reopened"]
                )


def test_rollup_is_the_daily_table_summed_per_dimension(history: Runner) -> None:
    expected = rollup(history.store.snapshot(ANALYTICS_DAILY))
    got = rows_by(
        [r for r in history.store.snapshot(ANALYTICS_ROLLUP) if r["dimension"] not in ROLLUP_ONLY],
        "dimension", "day", "value",
    )
    assert expected and got == expected


def test_the_product_rollup_sums_to_the_days_totals(history: Runner) -> None:
    """``product`` is in the rollup only: its rows of a day add up to the day's total."""
    rows = history.store.snapshot(ANALYTICS_ROLLUP)
    per_day: dict[tuple[str, date], dict[str, int]] = {}
    for r in rows:
        if r["dimension"] in ("product", ALL):
            sums = per_day.setdefault((r["dimension"], r["day"]), dict.fromkeys(MEASURES, 0))
            for m in MEASURES:
                sums[m] += r[m]
    days = {day for _, day in per_day}
    assert days and all(per_day[("product", d)] == per_day[(ALL, d)] for d in days)
