"""Routing (issue 12): the reaction that gives a new complaint an owner.

On ``Complaint.Filed``, and on ``Complaint.Reopened`` when the owner is gone (no longer in the
directory, or now in another team) or unavailable, the first routing rule that matches the
complaint names a team (``aggregates/routing_rules.py``). Within the team, the candidates are the
available agents whose skills cover the complaint (category, product name, region; an empty skill
list covers any); the one with the fewest open complaints gets it, ties going to the one this
process routed to least recently (never first, then by id). It is recorded as
``Assigned {rule: "routing/<name>@v<N>"}`` with the system as actor and the triggering event as
cause. No candidate: the complaint stays unassigned and the team's supervisor is notified
(``NotificationRequested "routing_unstaffed"``). No matching rule: nothing happens. A person can
reassign it at any time; routing never runs again on that complaint except on a reopen.

Open counts come from the workload view (``Staffing``), which lags the store. So the router
remembers the assignments this process made, with the notification id each was stored at
(``saved``, called after every save), and adds those the view has not counted yet (past its
position): a burst of filings is spread over the team instead of all going to whoever the view
showed as least busy. An assignment whose save failed is forgotten after ``PENDING_SECONDS``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from aggregates.complaint import Complaint
from aggregates.provenance import rule_ref
from aggregates.routing_rules import Facts, first_match, rule_id
from commands.directory_lookup import AgentProfile, DirectoryLookup
from commands.reactions import Trigger
from commands.routing_rules import RulesVersion

if TYPE_CHECKING:
    from eventsourcing.persistence import Recording

    from commands.application import ComplaintsApp

UNSTAFFED = "routing_unstaffed"
"""The template of the notification sent when a rule's team has no agent for a complaint."""
PENDING_SECONDS = 60.0
PRUNE_SECONDS = 1.0
"""How long an assignment the view has not counted is added to it (the view lagging more than
this, routing balances on what it shows)."""


@dataclass(frozen=True)
class OpenCounts:
    counts: Mapping[str, int]
    """Open complaints per agent (those with none may be left out)."""
    position: int
    """The view's position: every event up to this notification id is counted."""


class Staffing(Protocol):
    def open_counts(self, agents: Sequence[str]) -> OpenCounts:
        """The open complaints of each of ``agents`` (in every team), from the workload view."""


class NoStaffing:
    """No view plugged in (unit tests, tools): nobody has open complaints but what this process
    routed."""

    def open_counts(self, agents: Sequence[str]) -> OpenCounts:
        return OpenCounts({}, 0)


class RulesSource(Protocol):
    def in_force(self) -> RulesVersion: ...


def facts(complaint: Complaint) -> Facts:
    return Facts(
        category=complaint.category,
        region=complaint.region,
        channel=complaint.channel,
        tier=complaint.customer.tier,
        severity=complaint.severity,
        product=complaint.product.name,
    )


def covers(agent: AgentProfile, complaint: Complaint) -> bool:
    """Whether the agent's skills cover the complaint (an empty list covers any value)."""
    skills = agent.skills
    return (
        (not skills.categories or complaint.category in skills.categories)
        and (not skills.products or complaint.product.name in skills.products)
        and (not skills.regions or complaint.region in skills.regions)
    )


def owner_gone(complaint: Complaint, directory: DirectoryLookup) -> bool:
    """No owner, an owner no longer in the directory or in another team, or unavailable."""
    if complaint.assignee is None:
        return True
    owner = directory.agent(complaint.assignee)
    if owner is None or not owner.available:
        return True
    return complaint.team is not None and owner.team != complaint.team


@dataclass
class _Pending:
    agent: str
    noted_at: float
    position: int | None = None
    """The notification id the assignment was stored at (None until saved)."""


def choose(
    candidates: Sequence[AgentProfile],
    load: Mapping[str, int],
    last_routed: Mapping[str, int],
) -> AgentProfile | None:
    """The candidate with the fewest open complaints; ties: routed to least recently (never
    first), then by id."""
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda a: (load.get(a.agent_id, 0), last_routed.get(a.agent_id, -1), a.agent_id),
    )


class Router:
    """The routing reaction (registered first in ``app.reactions`` by the composition root)."""

    def __init__(
        self, rules: RulesSource, directory: DirectoryLookup, staffing: Staffing | None = None
    ) -> None:
        self._rules = rules
        self._directory = directory
        self._staffing: Staffing = staffing or NoStaffing()
        self._lock = threading.Lock()
        self._pending: dict[tuple[UUID, int], _Pending] = {}
        self._load: Counter[str] = Counter()
        """Per agent, the assignments in ``_pending``."""
        self._pruned: tuple[int, float] = (-1, float("-inf"))
        """The view's position and the instant of the last ``_prune``."""
        self._last_routed: dict[str, int] = {}
        self._turn = itertools.count()

    def react(self, app: ComplaintsApp, complaint: Complaint, trigger: Trigger) -> None:
        event = trigger.event
        if isinstance(event, Complaint.Filed):
            if complaint.assignee is not None:
                return
            owner = None
        elif isinstance(event, Complaint.Reopened):
            if complaint.is_closed or not owner_gone(complaint, self._directory):
                return
            owner = complaint.assignee
        else:
            return
        rules = self._rules.in_force()
        rule = first_match(rules.rules, facts(complaint))
        if rule is None:
            return
        name, team = rule["name"], rule["team"]
        if trigger.caused_by(rule_id(name)):
            return
        by = trigger.automatic(rule_ref(rule_id(name), rules.version))
        candidates = [
            agent
            for agent in self._directory.members(team)
            if agent.available and agent.agent_id != owner and covers(agent, complaint)
        ]
        agent = self._pick(candidates)
        if agent is None:
            profile = self._directory.team(team)
            complaint.request_notification(
                UNSTAFFED,
                audience="team_supervisor",
                recipient=profile.supervisor if profile else None,
                reason=f"routing rule '{name}' found no available agent of team {team} "
                "for this complaint",
                by=by,
            )
            return
        complaint.assign(agent.agent_id, team=team, reason=f"routing rule '{name}'", by=by)
        with self._lock:
            self._pending[(complaint.id, complaint.version)] = _Pending(
                agent.agent_id, time.monotonic()
            )
            self._load[agent.agent_id] += 1

    def _pick(self, candidates: Sequence[AgentProfile]) -> AgentProfile | None:
        if not candidates:
            return None
        counted = self._staffing.open_counts([a.agent_id for a in candidates])
        now = time.monotonic()
        with self._lock:
            if counted.position != self._pruned[0] or now - self._pruned[1] >= PRUNE_SECONDS:
                self._prune(counted.position, now)
            load = {
                a.agent_id: counted.counts.get(a.agent_id, 0) + self._load[a.agent_id]
                for a in candidates
            }
            chosen = choose(candidates, load, self._last_routed)
            if chosen is not None:
                self._last_routed[chosen.agent_id] = next(self._turn)
            return chosen

    def _prune(self, position: int, now: float) -> None:
        """Forgets the assignments the view has counted (stored at or before ``position``) and
        those never saved. A pass over all of them, so only when the view moved or once in a
        while, not on every filing."""
        for key, pending in list(self._pending.items()):
            if now - pending.noted_at > PENDING_SECONDS or (
                pending.position is not None and pending.position <= position
            ):
                del self._pending[key]
                self._load[pending.agent] -= 1
        self._pruned = (position, now)

    def saved(self, recordings: Sequence[Recording[Any]]) -> None:
        """Learns where this process's assignments were stored (called after every save)."""
        if not self._pending:
            return
        with self._lock:
            for recording in recordings:
                event = recording.domain_event
                pending = self._pending.get((event.originator_id, event.originator_version))
                if pending is not None:
                    pending.position = recording.notification.id
