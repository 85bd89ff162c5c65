"""After a scripted scenario the views hold exactly the expected rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

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
from projections.analytics import ANALYTICS_DAILY
from projections.complaints import COMPLAINT_LIST
from projections.runner import Runner
from projections.workload import WORKLOAD_AGENTS, WORKLOAD_TEAMS
from tests.intake import intake

SHANGHAI = ZoneInfo("Asia/Shanghai")


def file(app: ComplaintsApp, ctx: CommandContext, **overrides: object) -> UUID:
    return app.file_complaint(FileComplaint.model_validate(intake(**overrides)), ctx).complaint_id


def scenario(app: ComplaintsApp, ctx: CommandContext) -> tuple[UUID, UUID, UUID]:
    # a: answered once and closed at first contact (an FCR).
    a = file(app, ctx, received_at="2025-03-01T17:30:00+00:00", severity="high")  # 03-02 Shanghai
    app.assign(a, AssignComplaint(assignee="bob", team="t1"), ctx)
    app.comment(a, CommentOnComplaint(body="sorry", visibility="customer"), ctx)
    app.close_complaint(a, CloseComplaint(resolution_code="resolved", summary="ok"), ctx)
    # b: escalated, then reassigned from carol/t2 to bob/t1; stays open.
    b = file(app, ctx, received_at="2025-03-01T10:00:00+00:00", severity="low", region=None,
             category="billing", channel="phone")
    app.assign(b, AssignComplaint(assignee="carol", team="t2"), ctx)
    app.escalate(b, EscalateComplaint(reason="angry"), ctx)
    app.assign(b, AssignComplaint(assignee="bob", team="t1"), ctx)
    app.comment(b, CommentOnComplaint(body="internal note", visibility="internal"), ctx)
    # c: closed as an FCR, then reopened (the FCR is taken back); open again under bob, no team.
    c = file(app, ctx, received_at="2025-03-02T01:00:00+00:00", severity="critical")
    app.assign(c, AssignComplaint(assignee="bob"), ctx)
    app.close_complaint(c, CloseComplaint(resolution_code="invalid", summary="no"), ctx)
    app.reopen(c, ReopenComplaint(reason="it was valid"), ctx)
    return a, b, c


def test_views_hold_exactly_the_expected_rows(
    app: ComplaintsApp, ctx: CommandContext, runner: Runner
) -> None:
    a, b, c = scenario(app, ctx)
    runner.catch_up()
    head = app.recorder.max_notification_id()
    assert runner.store.positions(["complaints", "workload", "analytics"]) == {
        "complaints": head, "workload": head, "analytics": head,
    }

    rows = {r["id"]: r for r in runner.store.snapshot(COMPLAINT_LIST)}
    assert set(rows) == {a, b, c}
    for cid in (a, b, c):
        agg = app.get_complaint(cid)
        row = rows[cid]
        expected = {
            "reference": agg.reference, "status": agg.status, "category": agg.category,
            "severity": agg.severity, "channel": agg.channel, "region": agg.region,
            "customer_id": "CUST-1001", "customer_name": "张伟", "customer_tier": "vip",
            "product_name": "X9 phone", "product_model": "X9-128", "subject": agg.subject,
            "assignee": agg.assignee, "team": agg.team, "escalation_level": agg.escalation_level,
            "received_at": agg.received_at, "filed_at": agg.filed_at,
            "first_response_at": agg.first_response_at, "closed_at": agg.closed_at,
            "reopen_count": agg.reopen_count, "updated_at": agg.modified_on, "version": agg.version,
        }
        assert {k: row[k] for k in expected} == expected
    assert rows[a]["status"] == "closed" and rows[c]["status"] == "assigned"
    assert rows[b]["escalation_level"] == 1 and rows[b]["region"] is None

    filed_at = {cid: app.get_complaint(cid).filed_at for cid in (a, b, c)}
    zero = {"open_low": 0, "open_medium": 0, "open_high": 0, "open_critical": 0}
    assert runner.store.snapshot(WORKLOAD_AGENTS) == [
        {"assignee": "bob", "team": "", "open": 1, **zero, "open_critical": 1, "escalated": 0,
         "oldest_open_filed_at": filed_at[c]},
        {"assignee": "bob", "team": "t1", "open": 1, **zero, "open_low": 1, "escalated": 1,
         "oldest_open_filed_at": filed_at[b]},
    ]
    assert runner.store.snapshot(WORKLOAD_TEAMS) == [
        {"team": "t1", "open": 1, **zero, "open_low": 1, "escalated": 1,
         "oldest_open_filed_at": filed_at[b]},
    ]

    def day(moment: datetime) -> date:
        return moment.astimezone(SHANGHAI).date()

    def ms(later: datetime, earlier: datetime) -> int:
        return (later - earlier) // timedelta(milliseconds=1)

    events = {cid: list(app.events.get(cid)) for cid in (a, b, c)}
    a_reply, a_close = events[a][2].timestamp, events[a][3].timestamp
    c_close, c_reopen = events[c][2].timestamp, events[c][3].timestamp
    received = {cid: app.get_complaint(cid).received_at for cid in (a, b, c)}
    measures = dict.fromkeys(
        ("filed", "closed", "reopened", "first_response_count", "first_response_ms",
         "resolution_ms", "first_contact_resolutions"), 0,
    )
    expected_buckets: dict[tuple[object, ...], dict[str, int]] = {}

    def count(cid: UUID, when: date, **amounts: int) -> None:
        agg = app.get_complaint(cid)
        key = (when, agg.category, agg.channel, agg.region or "", agg.severity)
        bucket = expected_buckets.setdefault(key, dict(measures))
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
    got = {
        (r["day"], r["category"], r["channel"], r["region"], r["severity"]):
            {k: r[k] for k in measures}
        for r in runner.store.snapshot(ANALYTICS_DAILY)
    }
    assert got == expected_buckets
    assert datetime.now(UTC) > received[a]
