"""Rebuild by replay equals incremental upkeep; analytics equal what the oracle counts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from commands.application import ComplaintsApp
from infra.bootstrap import Services, bootstrap
from infra.data_keys import DataKeyStore
from infra.settings import Settings
from projections.complaint_list import COMPLAINT_LIST, ComplaintListProjection
from projections.projection import Positioned
from projections.registry import build, names
from projections.runner import Runner
from projections.store import Tx
from projections.workload import WORKLOAD_CASES
from queries.analytics import analytics_summary
from tests.application.test_personal_data import counted_reads
from tests.projections.faults import Killed
from tests.projections.history import generate
from tests.projections.oracle import Oracle
from tests.projections.views import ALL_TABLES, snapshot

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Generated:
    """A history of 2,000 complaints, once per store (the module's tests share it: a test that
    rebuilds the views leaves them as the incremental upkeep left them, which it asserts)."""

    live: Runner
    """The runner that kept the views along, in small, unevenly cut batches."""
    incremental: dict[str, list[dict[str, Any]]]
    """Every view as the incremental upkeep left it."""
    indexes: dict[str, set[str]]
    """Every view's indexes as the incremental upkeep left them."""


@pytest.fixture(scope="module")
def generated(module_services: Services, module_report_settings: Settings) -> Generated:
    app = module_services.app
    live = Runner(app, build(report_tz=module_report_settings.report_tz), page_size=97)
    started = time.monotonic()
    generate(app, 2000, seed=11, rounds=10, after_round=lambda _: live.catch_up(), sla=True)
    live.catch_up()
    assert time.monotonic() - started < 45
    return Generated(live, snapshot(live.store), index_names(live))


@pytest.fixture
def history(generated: Generated) -> Runner:
    """The runner that kept the views along, with its page sizes as it kept them."""
    generated.live.page_size = generated.live.bulk_page_size = 97
    return generated.live


def test_full_rebuild_equals_incremental_views(generated: Generated, history: Runner) -> None:
    incremental = generated.incremental
    assert len(incremental["complaint_list"]) == 2000
    assert incremental["workload_agents"] and incremental["analytics_daily"]
    for p in history.projections:
        history.store.reset(p.name, p.tables)
    assert history.store.snapshot(ALL_TABLES[0]) == []
    history.page_size = 1000
    history.catch_up()
    assert snapshot(history.store) == incremental


def index_names(runner: Runner) -> dict[str, set[str]]:
    return {t.name: runner.store.index_names(t) for t in ALL_TABLES}


SECONDARY = "complaint_list_status_filed"  # one that a rebuild builds at its end
KEPT = "workload_cases_agent"  # one that the workload handler reads through while writing


def test_bulk_rebuild_equals_incremental_views_and_restores_indexes(
    generated: Generated, history: Runner
) -> None:
    incremental, indexes = generated.incremental, generated.indexes
    assert SECONDARY in indexes[COMPLAINT_LIST.name] and KEPT in indexes[WORKLOAD_CASES.name]
    # Bulk pages large enough for the COPY path, then small ones near the head.
    history.page_size, history.bulk_page_size = 300, 2500
    during: list[set[str]] = []

    def progress(_positions: dict[str, int], _head: int) -> None:
        if not during:
            during.append(history.store.index_names(COMPLAINT_LIST))
            during.append(history.store.index_names(WORKLOAD_CASES))

    history.rebuild(progress=progress)
    assert SECONDARY not in during[0] and KEPT in during[1]
    assert snapshot(history.store) == incremental
    assert index_names(history) == indexes


def test_rebuild_follows_commands_that_arrive_meanwhile(
    app: ComplaintsApp, report_settings: Settings
) -> None:
    generate(app, 300, seed=21, rounds=3)
    runner = Runner(
        app, build(report_tz=report_settings.report_tz), page_size=100, bulk_page_size=400
    )
    arrived: list[object] = []

    def progress(_positions: dict[str, int], _head: int) -> None:
        if not arrived:
            arrived.extend(generate(app, 100, seed=22, rounds=2))

    runner.rebuild(progress=progress)
    head = app.recorder.max_notification_id()
    assert set(runner.store.positions(names()).values()) == {head}
    rebuilt = snapshot(runner.store)
    assert len(rebuilt[COMPLAINT_LIST.name]) == 400
    for p in runner.projections:  # the same history through the plain, incremental path
        runner.store.reset(p.name, p.tables)
    runner.page_size = runner.bulk_page_size = 97
    runner.catch_up()
    assert snapshot(runner.store) == rebuilt


def test_a_bulk_page_decodes_with_the_data_keys_read_for_it(
    services: Services, report_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = services.app
    generate(app, 300, seed=24, rounds=3)
    runner = Runner(app, build(report_tz=report_settings.report_tz), page_size=100)
    runner.catch_up()
    incremental = snapshot(runner.store)
    # Keys stale as soon as read: as when decoding a page outlasts the cache (a rebuild's
    # 50,000 positions on a busy machine). Each key read alone would then be read again.
    stale = DataKeyStore(app, services.data_keys.master, cache_seconds=0)
    app.mapper.protect_with(stale)
    reads = counted_reads(stale, monkeypatch)
    runner.bulk_page_size = 5000  # one page
    runner.rebuild()
    assert snapshot(runner.store) == incremental
    assert len([r for r in reads if "personal_data_keys" in r]) == 1  # one read for the page


class DyingComplaints(ComplaintListProjection):
    """Dies on its second batch, as a rebuild killed mid-way would."""

    batches = 0

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        self.batches += 1
        if self.batches == 2:
            raise Killed
        super().apply(tx, events)


def test_a_rebuild_killed_midway_leaves_a_state_that_recovers(
    app: ComplaintsApp, report_settings: Settings
) -> None:
    generate(app, 300, seed=23, rounds=3)
    Runner(app, build(report_tz=report_settings.report_tz)).catch_up()
    first = Runner(app, build(report_tz=report_settings.report_tz))
    incremental, indexes = snapshot(first.store), index_names(first)
    head = app.recorder.max_notification_id() or 0

    dying = Runner(app, [DyingComplaints(), *build(report_tz=report_settings.report_tz)[1:]],
                   page_size=100, bulk_page_size=400)
    with pytest.raises(Killed):
        dying.rebuild()
    assert set(dying.store.positions(names()).values()) == {400} and head > 400
    assert SECONDARY not in dying.store.index_names(COMPLAINT_LIST)

    with bootstrap(report_settings):  # a new worker process: indexes first, then it resumes
        resumed = Runner(app, build(report_tz=report_settings.report_tz))
    assert index_names(resumed) == indexes
    resumed.catch_up()
    assert snapshot(resumed.store) == incremental
    resumed.rebuild()  # and a new rebuild starts over cleanly
    assert snapshot(resumed.store) == incremental
    assert index_names(resumed) == indexes


def test_analytics_summary_equals_the_oracle(
    history: Runner, module_services: Services, module_report_settings: Settings
) -> None:
    oracle = Oracle.of(module_services.app, module_report_settings.report_tz)
    today = datetime.now(SHANGHAI).date()
    for first, last in ((date(2025, 1, 1), today), (date(2025, 3, 1), date(2025, 5, 31))):
        summary = analytics_summary(history.store, first, last, "category", top=3)
        assert summary.model_dump(include={"groups", "totals", "top_categories"}) == (
            oracle.summary(first, last, "category", top=3)
        )
