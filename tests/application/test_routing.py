"""Routing on a real store (issue 12), SQLite and PostgreSQL: the reaction wired by bootstrap,
the directory and rules it reads, the workload view it balances on, and a person's override."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from aggregates.complaint import Complaint
from aggregates.errors import InvalidIntakeError
from aggregates.event_ids import event_id
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.directory import DirectoryService
from commands.directory_models import PutAgent, PutTeam
from commands.models import AssignComplaint, CloseComplaint, FileComplaint, ReopenComplaint
from commands.routing_models import PutRoutingRules
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from projections.registry import build
from projections.runner import Runner
from tests.intake import intake

ADMIN = CommandContext("root", "admin", "corr-admin")


def team(app: ComplaintsApp, team_id: str, supervisor: str = "sue") -> None:
    app.directory.put_team(team_id, PutTeam(name=team_id.title(), supervisor=supervisor), ADMIN)


def agent(app: ComplaintsApp, name: str, team_id: str = "east", **profile: Any) -> None:
    body = {"display_name": name.title(), "team": team_id, **profile}
    app.directory.put_agent(name, PutAgent.model_validate(body), ADMIN)


def publish(app: ComplaintsApp, *rules: dict[str, Any]) -> int:
    command = PutRoutingRules.model_validate({"rules": list(rules), "reason": "test"})
    return app.routing_rules.publish(command, ADMIN).current.version


def file(app: ComplaintsApp, ctx: CommandContext, **overrides: Any) -> Complaint:
    result = app.file_complaint(FileComplaint.model_validate(intake(**overrides)), ctx)
    return app.get_complaint(result.complaint_id)


def events(app: ComplaintsApp, cid: UUID) -> list[Any]:
    return list(app.events.get(cid))


def test_filings_are_routed_by_rule_balanced_and_overridable(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    team(app, "east")
    team(app, "vip")
    agent(app, "ann")
    agent(app, "bob")
    agent(app, "cy", available=False)
    agent(app, "dee", skills={"categories": ["billing"]})
    agent(app, "vic", "vip")
    publish(app, {"name": "vip-billing", "when": {"tier": ["vip"], "category": ["billing"]},
                  "team": "vip"})
    version = publish(
        app,
        {"name": "vip-billing", "when": {"tier": ["vip"], "category": ["billing"]}, "team": "vip"},
        {"name": "east", "when": {"region": ["east"]}, "team": "east"},
    )
    assert version == 2

    owners = [file(app, ctx).assignee for _ in range(4)]
    # A tie alternates; cy is unavailable, dee handles only billing.
    assert owners == ["ann", "bob", "ann", "bob"]
    complaint = file(app, ctx)
    filed, _, assigned = events(app, complaint.id)
    assert isinstance(assigned, Complaint.Assigned)
    assert (assigned.assignee, assigned.team) == ("ann", "east")
    assert assigned.rule == "routing/east@v2" and assigned.actor == "automation"
    assert assigned.causation_id == str(event_id(complaint.id, filed.originator_version))
    assert assigned.correlation_id == ctx.correlation_id

    assert file(app, ctx, category="billing").assignee == "vic"
    assert file(app, ctx, region="west").assignee is None  # no rule matches

    # A person overrides it; routing does not come back.
    app.handle(complaint.id, AssignComplaint(assignee="cy", team="east"), ctx)
    overridden = app.get_complaint(complaint.id)
    assert (overridden.assignee, events(app, complaint.id)[-1].rule) == ("cy", None)


def test_no_agent_leaves_it_unassigned_and_a_reopen_reroutes_when_the_owner_is_away(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    team(app, "east", supervisor="sue")
    agent(app, "ann", skills={"products": ["X9 phone"]})
    publish(app, {"name": "east", "team": "east"})

    unstaffed = file(app, ctx, product={"name": "Y1 tablet"})
    assert unstaffed.assignee is None
    notified = events(app, unstaffed.id)[-1]
    assert isinstance(notified, Complaint.NotificationRequested)
    assert (notified.template, notified.recipient, notified.rule) == (
        "routing_unstaffed", "sue", "routing/east@v1"
    )

    complaint = file(app, ctx)
    assert complaint.assignee == "ann"
    app.handle(complaint.id, CloseComplaint(resolution_code="resolved", summary="ok"), ctx)
    agent(app, "ann", available=False)  # on leave
    agent(app, "bob")
    app.handle(complaint.id, ReopenComplaint(reason="broken again"), ctx)
    reopened = app.get_complaint(complaint.id)
    assert reopened.assignee == "bob"
    *_, reopen, _, assigned = events(app, complaint.id)
    assert isinstance(reopen, Complaint.Reopened)
    assert assigned.causation_id == str(event_id(complaint.id, reopen.originator_version))


def test_open_counts_come_from_the_workload_view(
    services: Services, app: ComplaintsApp, ctx: CommandContext
) -> None:
    team(app, "east")
    agent(app, "ann")
    agent(app, "bob")
    for _ in range(2):  # by hand, before any rule: ann has two open complaints
        cid = file(app, ctx).id
        app.handle(cid, AssignComplaint(assignee="ann", team="east"), ctx)
    Runner(app, build(["workload"])).catch_up()
    publish(app, {"name": "east", "team": "east"})
    # bob, bob (now 2 each, the view still showing 2 and 0), then a tie.
    assert [file(app, ctx).assignee for _ in range(3)] == ["bob", "bob", "ann"]


def test_rules_must_name_a_team_of_the_directory(app: ComplaintsApp) -> None:
    with pytest.raises(InvalidIntakeError) as refused:
        publish(app, {"name": "east", "team": "east"})
    assert refused.value.field == "rules.0.team"
    assert app.routing_rules.current().version == 0


def test_another_process_sees_a_directory_change_once_its_copy_is_older_than_the_ttl(
    app: ComplaintsApp,
) -> None:
    team(app, "east")
    agent(app, "ann")
    elsewhere = DirectoryService(app, cache_seconds=3600)  # as another process would hold it
    assert elsewhere.agent("ann") is not None and elsewhere.agent("ann").available  # type: ignore[union-attr]
    agent(app, "ann", available=False)
    agent(app, "bob")
    assert elsewhere.agent("ann").available  # type: ignore[union-attr]  # within its TTL
    elsewhere.cache_seconds = 0  # the TTL passes: one query on the log brings it up to date
    assert not elsewhere.agent("ann").available  # type: ignore[union-attr]
    assert [a.agent_id for a in elsewhere.members("east")] == ["ann", "bob"]


def test_routing_can_be_switched_off(settings: Settings, ctx: CommandContext) -> None:
    with bootstrap(settings.model_copy(update={"routing": False})) as services:
        app = services.app
        team(app, "east")
        agent(app, "ann")
        publish(app, {"name": "east", "team": "east"})
        assert file(app, ctx).assignee is None
