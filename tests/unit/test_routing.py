"""Routing (issue 12), without a store: rule matching, the choice of agent, and the router on an
in-memory complaint with a fake directory, rules and workload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from aggregates.complaint import Complaint
from aggregates.errors import InvalidIntakeError
from aggregates.event_ids import event_id
from aggregates.provenance import Provenance
from aggregates.routing_rules import Facts, check_rules, first_match
from commands.directory_lookup import AgentProfile, Skills, TeamProfile
from commands.models import FileComplaint
from commands.reactions import react
from commands.routing import OpenCounts, Router, choose
from commands.routing_rules import RulesVersion
from tests.intake import intake

BY = Provenance("alice", "corr-1", "req-1")


def rules(*specs: tuple[str, dict[str, list[str]], str]) -> list[dict[str, Any]]:
    return check_rules(
        [{"name": n, "when": w, "team": t} for n, w, t in specs], {"east", "west", "vip"}
    )


FACTS = Facts(
    category="logistics", region="east", channel="web", tier="vip", severity="high",
    product="X9 phone",
)


def test_the_first_matching_rule_wins_and_an_empty_condition_matches_anything() -> None:
    ordered = rules(
        ("billing", {"category": ["billing"]}, "west"),
        ("vip-x9", {"tier": ["vip"], "product": ["X9 phone"], "region": []}, "vip"),
        ("rest", {}, "east"),
    )
    assert first_match(ordered, FACTS)["name"] == "vip-x9"  # type: ignore[index]
    assert first_match(ordered, Facts(**{**FACTS.__dict__, "product": None}))["name"] == "rest"  # type: ignore[index]
    assert first_match(ordered[:1], FACTS) is None
    assert first_match(rules(("west", {"region": ["west"]}, "west")), FACTS) is None


def test_rules_name_their_problem() -> None:
    with pytest.raises(InvalidIntakeError) as unknown:
        check_rules([{"name": "a", "when": {}, "team": "nowhere"}], {"east"})
    assert unknown.value.field == "rules.0.team"
    with pytest.raises(InvalidIntakeError) as twice:
        check_rules([{"name": "a", "team": "east"}, {"name": "a", "team": "east"}], {"east"})
    assert twice.value.field == "rules.1.name"


def agent(name: str, team: str = "east", **kw: Any) -> AgentProfile:
    return AgentProfile(agent_id=name, display_name=name.title(), team=team, **kw)


def test_the_agent_with_the_fewest_open_complaints_is_chosen_ties_least_recently_routed() -> None:
    ann, bob, cy = agent("ann"), agent("bob"), agent("cy")
    assert choose([ann, bob, cy], {"ann": 2, "bob": 1, "cy": 3}, {}) == bob
    # A tie: the one never routed to first, then the one routed to longest ago.
    assert choose([ann, bob], {"ann": 1, "bob": 1}, {"ann": 5}) == bob
    assert choose([ann, bob], {"ann": 1, "bob": 1}, {"ann": 5, "bob": 7}) == ann
    assert choose([ann, bob], {}, {}) == ann  # then by id
    assert choose([], {}, {}) is None


@dataclass
class FakeDirectory:
    agents: dict[str, AgentProfile] = field(default_factory=dict)
    teams: dict[str, TeamProfile] = field(default_factory=dict)

    def team(self, team_id: str) -> TeamProfile | None:
        return self.teams.get(team_id)

    def agent(self, agent_id: str) -> AgentProfile | None:
        return self.agents.get(agent_id)

    def members(self, team_id: str) -> Sequence[AgentProfile]:
        return sorted((a for a in self.agents.values() if a.team == team_id),
                      key=lambda a: a.agent_id)


@dataclass
class FakeStaffing:
    counts: dict[str, int] = field(default_factory=dict)
    position: int = 0

    def open_counts(self, agents: Sequence[str]) -> OpenCounts:
        return OpenCounts({a: n for a, n in self.counts.items() if a in agents}, self.position)


@dataclass
class FakeRules:
    current: RulesVersion

    def in_force(self) -> RulesVersion:
        return self.current


def router(
    *agents: AgentProfile,
    counts: Mapping[str, int] | None = None,
    when: dict[str, list[str]] | None = None,
) -> tuple[Router, FakeDirectory, FakeStaffing]:
    directory = FakeDirectory(
        {a.agent_id: a for a in agents}, {"east": TeamProfile("east", "East", "sue")}
    )
    staffing = FakeStaffing(dict(counts or {}))
    published = RulesVersion(3, tuple(rules(("east-all", when or {}, "east"))))
    return Router(FakeRules(published), directory, staffing), directory, staffing


def filed(**overrides: Any) -> Complaint:
    command = FileComplaint.model_validate(intake(**overrides))
    return Complaint.file(
        reference="C-TEST-0001", received_at=command.received_at or _now(),
        received_by=command.received_by, by=BY, **command.filing(),
    )


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def route(r: Router, complaint: Complaint) -> list[Any]:
    """The router shown the complaint's new events, as a save would; returns them all (then
    they count as saved)."""
    react(SimpleNamespace(), complaint, [r])  # type: ignore[arg-type]
    return list(complaint.collect_events())


def test_a_filing_goes_to_the_least_busy_covering_available_agent_naming_its_rule() -> None:
    r, _, _ = router(
        agent("ann"), agent("bob", available=False),
        agent("cy", skills=Skills(categories=("billing",))),
        agent("dee", skills=Skills(products=("X9 phone",), regions=("east",))),
        counts={"ann": 1, "dee": 0},
    )
    complaint = filed()
    assigned = route(r, complaint)[-1]
    assert isinstance(assigned, Complaint.Assigned)
    assert (assigned.assignee, assigned.team) == ("dee", "east")
    assert assigned.rule == "routing/east-all@v3" and assigned.actor == "automation"
    assert assigned.causation_id == str(event_id(complaint.id, 1))
    assert assigned.reason == "routing rule 'east-all'"


def test_a_burst_is_spread_although_the_view_has_not_counted_it() -> None:
    r, _, staffing = router(agent("ann"), agent("bob"), counts={"ann": 1, "bob": 1})
    owners = []
    for _ in range(4):
        complaint = filed()
        events = route(r, complaint)
        owners.append(complaint.assignee)
        # Stored at positions 11, 12, ...: the view has counted none of them yet.
        r.saved([SimpleNamespace(domain_event=e, notification=SimpleNamespace(id=10 + len(owners)))
                 for e in events])  # type: ignore[list-item]
    assert owners == ["ann", "bob", "ann", "bob"]
    # The view catches up (counting them all): only its counts matter again.
    staffing.counts, staffing.position = {"ann": 3, "bob": 4}, 14
    complaint = filed()
    route(r, complaint)
    assert complaint.assignee == "ann"


def test_no_covering_agent_leaves_it_unassigned_and_notifies_the_supervisor() -> None:
    r, _, _ = router(agent("ann", available=False),
                     agent("bob", skills=Skills(regions=("west",))))
    complaint = filed()
    notified = route(r, complaint)[-1]
    assert complaint.assignee is None
    assert isinstance(notified, Complaint.NotificationRequested)
    assert (notified.template, notified.audience, notified.recipient) == (
        "routing_unstaffed", "team_supervisor", "sue"
    )
    assert "east-all" in notified.reason and notified.rule == "routing/east-all@v3"


def test_no_matching_rule_does_nothing() -> None:
    r, _, _ = router(agent("ann"), when={"category": ["billing"]})
    complaint = filed()
    assert len(route(r, complaint)) == 1
    assert complaint.assignee is None


def test_a_reopen_reroutes_only_when_the_owner_is_gone_or_unavailable() -> None:
    r, directory, _ = router(agent("ann"), agent("bob"))
    complaint = filed()
    route(r, complaint)
    assert complaint.assignee == "ann"

    def reopen() -> list[Any]:
        complaint.close("resolved", "done", by=BY)
        complaint.reopen("again", by=BY)
        return route(r, complaint)

    assert [type(e) for e in reopen()] == [Complaint.Closed, Complaint.Reopened]
    directory.agents["ann"] = agent("ann", available=False)
    *_, reopened, assigned = reopen()
    assert complaint.assignee == "bob" and assigned.causation_id == str(
        event_id(complaint.id, reopened.originator_version)
    )
    # Moved to another team: gone from this one, and nobody else there is available.
    directory.agents["bob"] = agent("bob", team="west")
    *_, notified = reopen()
    assert isinstance(notified, Complaint.NotificationRequested)
    assert complaint.assignee == "bob"


def test_an_assignment_never_saved_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    import commands.routing as routing

    r, _, _ = router(agent("ann"), agent("bob"), counts={"bob": 1})
    first = filed()
    react(SimpleNamespace(), first, [r])  # type: ignore[arg-type]
    assert first.assignee == "ann"  # and its save fails: saved() never hears of it
    monkeypatch.setattr(routing, "PENDING_SECONDS", -1.0)  # time passes
    monkeypatch.setattr(routing, "PRUNE_SECONDS", 0.0)
    complaint = filed()
    route(r, complaint)
    assert complaint.assignee == "ann"  # counted, it would make a tie, which goes to bob
    assert len(r._pending) == 1
