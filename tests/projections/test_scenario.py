"""After a scripted scenario the views hold exactly the rows the oracle expects
(``tests/projections/oracle.py``); and for this scenario the oracle agrees with a count by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.domain import Aggregate

from aggregates.vocabulary import ResolutionCode, Visibility
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import (
    AssignComplaint,
    CloseComplaint,
    CommentOnComplaint,
    EscalateComplaint,
    FileComplaint,
    ReopenComplaint,
)
from infra.settings import Settings
from projections.analytics import ANALYTICS_DAILY
from projections.complaint_list import COMPLAINT_LIST
from projections.runner import Runner
from projections.workload import WORKLOAD_AGENTS, WORKLOAD_TEAMS
from tests.intake import INTAKE, intake
from tests.projections.oracle import DIMENSIONS, MEASURES, Oracle, rows_by

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Scenario:
    a: UUID
    """Answered once and closed at first contact (a first-contact resolution)."""
    b: UUID
    """Escalated, then reassigned from carol/t2 to bob/t1; stays open."""
    c: UUID
    """Closed at first contact, then reopened (which withdraws that); open under bob, no team."""

    @property
    def ids(self) -> set[UUID]:
        return {self.a, self.b, self.c}


def file(app: ComplaintsApp, ctx: CommandContext, **overrides: object) -> UUID:
    return app.file_complaint(FileComplaint.model_validate(intake(**overrides)), ctx).complaint_id


@pytest.fixture
def scenario(app: ComplaintsApp, ctx: CommandContext) -> Scenario:
    a = file(app, ctx, received_at="2025-03-01T17:30:00+00:00", severity="high")  # 03-02 Shanghai
    app.handle(a, AssignComplaint(assignee="bob", team="t1"), ctx)
    app.handle(a, CommentOnComplaint(body="sorry", visibility=Visibility.CUSTOMER), ctx)
    app.handle(
        a, CloseComplaint(resolution_code=ResolutionCode.RESOLVED, summary="ok"), ctx
    )
    b = file(app, ctx, received_at="2025-03-01T10:00:00+00:00", severity="low", region=None,
             category="billing", channel="phone")
    app.handle(b, AssignComplaint(assignee="carol", team="t2"), ctx)
    app.handle(b, EscalateComplaint(reason="angry"), ctx)
    app.handle(b, AssignComplaint(assignee="bob", team="t1"), ctx)
    app.handle(b, CommentOnComplaint(body="internal note", visibility=Visibility.INTERNAL), ctx)
    c = file(app, ctx, received_at="2025-03-02T01:00:00+00:00", severity="critical")
    app.handle(c, AssignComplaint(assignee="bob"), ctx)
    app.handle(
        c, CloseComplaint(resolution_code=ResolutionCode.INVALID, summary="no"), ctx
    )
    app.handle(c, ReopenComplaint(reason="it was valid"), ctx)
    return Scenario(a, b, c)


@pytest.fixture
def views(runner: Runner, scenario: Scenario) -> Runner:
    """Every view, caught up with the scenario."""
    runner.catch_up()
    return runner


@pytest.fixture
def oracle(app: ComplaintsApp, scenario: Scenario, report_settings: Settings) -> Oracle:
    return Oracle.of(app, report_settings.report_tz)


def test_every_view_reaches_the_head(app: ComplaintsApp, views: Runner) -> None:
    head = app.recorder.max_notification_id()
    assert views.store.positions(["complaint_list", "workload", "analytics"]) == {
        "complaint_list": head, "workload": head, "analytics": head,
    }


def test_the_complaint_list_holds_each_complaint_as_its_events_leave_it(
    views: Runner, oracle: Oracle, scenario: Scenario
) -> None:
    rows = rows_by(views.store.snapshot(COMPLAINT_LIST), "id")
    expected = oracle.complaint_list()
    assert set(rows) == set(expected) == scenario.ids
    assert {cid: {k: rows[cid][k] for k in columns} for cid, columns in expected.items()} == (
        expected
    )


def test_the_complaint_list_shows_the_filed_customer_and_product(views: Runner) -> None:
    customer, product = INTAKE["customer"], INTAKE["product"]
    for row in views.store.snapshot(COMPLAINT_LIST):
        assert (row["customer_id"], row["customer_name"], row["customer_tier"]) == (
            customer["id"], customer["name"], customer["tier"]
        )
        assert (row["product_name"], row["product_model"]) == (product["name"], product["model"])


def test_the_complaint_list_ends_as_scripted(views: Runner, scenario: Scenario) -> None:
    rows = rows_by(views.store.snapshot(COMPLAINT_LIST), "id")
    assert rows[scenario.a]["status"] == "closed" and rows[scenario.c]["status"] == "assigned"
    assert rows[scenario.b]["escalation_level"] == 1 and rows[scenario.b]["region"] is None


def test_workload_per_agent_counts_each_agents_open_cases(views: Runner, oracle: Oracle) -> None:
    agents = rows_by(views.store.snapshot(WORKLOAD_AGENTS), "assignee", "team")
    assert agents == oracle.workload_agents()


def test_workload_per_team_counts_each_teams_open_cases(views: Runner, oracle: Oracle) -> None:
    assert rows_by(views.store.snapshot(WORKLOAD_TEAMS), "team") == oracle.workload_teams()


def test_analytics_counts_every_fact_on_its_report_day(views: Runner, oracle: Oracle) -> None:
    daily = rows_by(views.store.snapshot(ANALYTICS_DAILY), "day", *DIMENSIONS)
    assert daily == oracle.analytics_daily()


# ---- the oracle, checked against a count by hand for this scenario --------------------------


def test_the_oracle_counts_workload_as_by_hand(
    app: ComplaintsApp, oracle: Oracle, scenario: Scenario
) -> None:
    filed_at = {cid: app.get_complaint(cid).filed_at for cid in scenario.ids}
    zero = {"open_low": 0, "open_medium": 0, "open_high": 0, "open_critical": 0, "at_risk": 0,
            "breached": 0}
    assert oracle.workload_agents() == rows_by([
        {"assignee": "bob", "team": "", "open": 1, **zero, "open_critical": 1, "escalated": 0,
         "oldest_open_filed_at": filed_at[scenario.c]},
        {"assignee": "bob", "team": "t1", "open": 1, **zero, "open_low": 1, "escalated": 1,
         "oldest_open_filed_at": filed_at[scenario.b]},
    ], "assignee", "team")
    assert oracle.workload_teams() == rows_by([
        {"team": "t1", "open": 1, **zero, "open_low": 1, "escalated": 1,
         "oldest_open_filed_at": filed_at[scenario.b]},
    ], "team")


def test_the_oracle_counts_analytics_as_by_hand(
    app: ComplaintsApp, oracle: Oracle, scenario: Scenario
) -> None:
    a, b, c = scenario.a, scenario.b, scenario.c

    def day(moment: datetime) -> date:
        return moment.astimezone(SHANGHAI).date()

    def ms(later: datetime, earlier: datetime) -> int:
        return (later - earlier) // timedelta(milliseconds=1)

    times = {
        cid: [cast(Aggregate.Event, e).timestamp for e in app.events.get(cid)]
        for cid in scenario.ids
    }
    # each history: filed, SLA applied, then the steps
    a_reply, a_close = times[a][3], times[a][4]
    c_close, c_reopen = times[c][3], times[c][4]
    received = {cid: app.get_complaint(cid).received_at for cid in scenario.ids}
    expected: dict[tuple[object, ...], dict[str, int]] = {}

    def count(cid: UUID, when: date, **amounts: int) -> None:
        agg = app.get_complaint(cid)
        key = (when, agg.category, agg.channel, agg.region or "", agg.severity)
        bucket = expected.setdefault(key, dict.fromkeys(MEASURES, 0))
        for k, v in amounts.items():
            bucket[k] += v

    count(a, date(2025, 3, 2), filed=1)
    count(b, date(2025, 3, 1), filed=1)
    count(c, date(2025, 3, 2), filed=1)
    count(a, day(a_reply), first_response_count=1, first_response_ms=ms(a_reply, received[a]))
    count(a, day(a_close), closed=1, resolution_ms=ms(a_close, received[a]),
          first_contact_resolutions=1)
    count(c, day(c_close), closed=1, resolution_ms=ms(c_close, received[c]))
    count(c, day(c_reopen), reopened=1)
    # The SLA clocks (built-in policy: PT4H, P3D on 24x7), all ended late (answered and closed
    # now, a year after): counted, not met, on the day of their due instants.
    for cid in (a, c):
        count(cid, day(received[cid] + timedelta(hours=4)), first_response_sla_counted=1)
        count(cid, day(received[cid] + timedelta(days=3)), resolution_sla_counted=1)
    counted: dict[Any, dict[str, int]] = {
        key: {m: row[m] for m in MEASURES} for key, row in oracle.analytics_daily().items()
    }
    assert counted == expected
    assert datetime.now(UTC) > received[a]
