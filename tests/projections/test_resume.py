"""A projection stopped after K events, or killed mid-batch, resumes without gaps or doubles."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from commands.application import ComplaintsApp
from infra.settings import Settings
from projections.complaint_list import COMPLAINT_LIST
from projections.projection import Positioned
from projections.registry import build, names
from projections.runner import Runner
from projections.store import PositionMovedError, Tx
from projections.workload import WORKLOAD_AGENTS, WORKLOAD_CASES, WORKLOAD_TEAMS, WorkloadProjection
from tests.projections.faults import Killed
from tests.projections.history import generate
from tests.projections.oracle import Oracle, rows_by
from tests.projections.views import snapshot


def test_stopped_after_k_events_resumes_exactly(
    app: ComplaintsApp, report_settings: Settings
) -> None:
    generate(app, 120, seed=3, rounds=4)
    head = app.recorder.max_notification_id() or 0

    stop = threading.Event()
    first = Runner(app, build(report_tz=report_settings.report_tz), page_size=37)
    seen: list[dict[str, int]] = []

    def stop_after_three(positions: dict[str, int], _head: int) -> None:
        seen.append(positions)
        if len(seen) == 3:
            stop.set()

    first.catch_up(stop=stop, progress=stop_after_three)
    stopped_at = first.store.positions(names())
    assert 0 < min(stopped_at.values()) < head
    assert stopped_at == seen[-1]  # what was committed is exactly what was reported

    # A fresh process, say.
    resumed = Runner(app, build(report_tz=report_settings.report_tz), page_size=1000)
    resumed.catch_up()
    resumed_at = resumed.store.positions(names())
    assert set(resumed_at.values()) == {head}
    incremental = snapshot(resumed.store)

    for p in resumed.projections:
        resumed.store.reset(p.name, p.tables)
    resumed.catch_up()
    assert snapshot(resumed.store) == incremental
    # No doubles: one row per complaint, and the open counters add up to the open cases.
    assert len(incremental[COMPLAINT_LIST.name]) == 120
    open_cases = [c for c in incremental[WORKLOAD_CASES.name] if c["is_open"] and c["team"]]
    assert sum(t["open"] for t in incremental[WORKLOAD_TEAMS.name]) == len(open_cases)
    oracle = Oracle.of(app, report_settings.report_tz)
    assert rows_by(incremental[WORKLOAD_TEAMS.name], "team") == oracle.workload_teams()


class CrashingWorkload(WorkloadProjection):
    """Writes part of a batch, then dies, as a process killed mid-transaction would."""

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        super().apply(tx, events)
        raise Killed


def test_killed_mid_batch_leaves_nothing_behind(
    app: ComplaintsApp, report_settings: Settings
) -> None:
    generate(app, 60, seed=5, rounds=3)
    head = app.recorder.max_notification_id()
    healthy = build(report_tz=report_settings.report_tz)
    crashing = Runner(app, [healthy[0], CrashingWorkload(), *healthy[2:]])
    with pytest.raises(Killed):
        crashing.catch_up()
    # The batch was one transaction over all of them: none of them moved or wrote anything.
    assert crashing.store.positions(names()) == dict.fromkeys(names(), 0)
    assert crashing.store.snapshot(WORKLOAD_AGENTS) == []
    assert crashing.store.snapshot(COMPLAINT_LIST) == []

    Runner(app, build(report_tz=report_settings.report_tz)).catch_up()
    assert crashing.store.position("workload") == head
    assert len(crashing.store.snapshot(COMPLAINT_LIST)) == 60


def test_a_stale_worker_cannot_apply_a_batch_twice(
    app: ComplaintsApp, report_settings: Settings
) -> None:
    generate(app, 30, seed=9, rounds=2)
    one = Runner(app, build(["workload"], report_tz=report_settings.report_tz))
    two = Runner(app, build(["workload"], report_tz=report_settings.report_tz))
    one.catch_up()
    expected = one.store.snapshot(WORKLOAD_AGENTS)
    # ``two`` read its position (0) before ``one`` committed: its claim must fail, then it
    # reloads the position and finds nothing left to do.
    with pytest.raises(PositionMovedError), two.store.write() as tx:
        two.store.claim(tx, "workload", 0)
    assert two.catch_up() == 0
    assert two.store.snapshot(WORKLOAD_AGENTS) == expected
