"""The SLA view: its current clocks equal what the aggregates say (the oracle), and a rebuild by
replay equals the view kept incrementally (also in ``test_rebuild.py``, with every view)."""

from __future__ import annotations

from datetime import timedelta

from commands.application import ComplaintsApp
from projections.analytics import ANALYTICS_DAILY
from projections.registry import build
from projections.runner import Runner
from projections.sla import SLA
from projections.workload import WORKLOAD_AGENTS, WORKLOAD_TEAMS
from queries.analytics import analytics_summary
from tests.projections.history import generate
from tests.projections.oracle import DIMENSIONS, MEASURES, Oracle, rows_by


def test_the_current_clocks_equal_the_aggregates(app: ComplaintsApp) -> None:
    runner = Runner(app, build(["sla"]), page_size=53)
    generate(app, 400, seed=31, rounds=8, after_round=lambda _: runner.catch_up(), sla=True)
    runner.catch_up()
    expected = Oracle.of(app).sla()
    rows = {(r["complaint_id"], r["metric"], r["cycle"]): r for r in runner.store.snapshot(SLA)}
    assert len(expected) == 800
    columns = next(iter(expected.values())).keys()
    current = {k: {c: rows[k][c] for c in columns} for k in expected}
    assert current == expected
    states = {r["state"] for r in rows.values()}
    assert states == {"running", "paused", "at_risk", "met", "breached"}
    assert len(rows) > len(expected)  # past resolution cycles are kept
    for p in runner.projections:
        runner.store.reset(p.name, p.tables)
    runner.page_size = 1000
    runner.catch_up()
    assert {(r["complaint_id"], r["metric"], r["cycle"]): r
            for r in runner.store.snapshot(SLA)} == rows


def test_workload_counts_at_risk_and_breached_open_complaints_as_the_oracle(
    app: ComplaintsApp,
) -> None:
    runner = Runner(app, build(["workload"]), page_size=41)
    generate(app, 400, seed=32, rounds=8, after_round=lambda _: runner.catch_up(), sla=True)
    runner.catch_up()
    oracle = Oracle.of(app)
    agents = rows_by(runner.store.snapshot(WORKLOAD_AGENTS), "assignee", "team")
    assert agents == oracle.workload_agents()
    assert rows_by(runner.store.snapshot(WORKLOAD_TEAMS), "team") == oracle.workload_teams()
    assert sum(r["at_risk"] for r in agents.values()) > 0
    assert sum(r["breached"] for r in agents.values()) > 0


def test_analytics_counts_sla_compliance_as_the_oracle(app: ComplaintsApp) -> None:
    runner = Runner(app, build(["analytics"]), page_size=37)
    generate(app, 400, seed=33, rounds=8, after_round=lambda _: runner.catch_up(), sla=True)
    runner.catch_up()
    oracle = Oracle.of(app)
    daily = rows_by(runner.store.snapshot(ANALYTICS_DAILY), "day", *DIMENSIONS)
    assert daily == oracle.analytics_daily()
    totals = {m: sum(r[m] for r in daily.values()) for m in MEASURES}
    for metric in ("first_response", "resolution"):
        counted, met = totals[f"{metric}_sla_counted"], totals[f"{metric}_sla_met"]
        assert 0 < met < counted, metric
    first = min(d for d, *_ in daily)
    last = first + timedelta(days=1000)
    summary = analytics_summary(runner.store, first, last, "severity")
    assert summary.model_dump(include={"groups", "totals", "top_categories"}) == (
        oracle.summary(first, last, "severity")
    )
    assert summary.totals.first_response_met_rate is not None
