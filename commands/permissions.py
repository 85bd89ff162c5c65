"""The permission table (issue 11): every action of the API, the roles that may take it, and
how far each role reaches (its scope). The API's ``permit`` dependency checks the role of every
route against it; the command application checks the scope on the complaint it loads anyway.

Scopes, for actions on one complaint (``Actor`` = the principal's name, role and teams):

- ``any``: every complaint.
- ``own_or_team`` (agents): complaints assigned to them, or to one of their teams, and the
  triage queue (complaints nobody has been assigned yet), so agents can pick work up.
- ``team`` (supervisors): complaints of their teams, and every complaint of no team (the triage
  queue and complaints assigned to a person without a team), which otherwise nobody supervises.

A token issued before teams existed acts for no team: an agent then reaches their own complaints
and the triage queue, a supervisor the complaints of no team. Failing closed keeps an old token
from suddenly reaching every team; an admin issues a new token with ``teams``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from aggregates.vocabulary import Role
from commands.errors import ForbiddenError


class Scope(StrEnum):
    ANY = "any"
    OWN_OR_TEAM = "own_or_team"
    TEAM = "team"


@dataclass(frozen=True)
class Permission:
    action: str
    summary: str
    roles: Mapping[str, Scope]
    """Who may take the action (a ``Role``, or ``SYSTEM``), and on which complaints (``any``
    for actions on none)."""
    public: bool = False
    """Anyone, without a token."""

    def allows(self, role: str) -> bool:
        return self.public or role in self.roles

    def refusal(self, role: str) -> str:
        """Why ``role`` is refused, and who would not be."""
        who = " or ".join(r for r in self.roles if r in set(Role)) or "no role"
        return f"the role {role} may not {self.summary[0].lower()}{self.summary[1:]}; {who} may"


@dataclass(frozen=True)
class Actor:
    """Who acts, as far as permissions go."""

    name: str
    role: str
    teams: tuple[str, ...] = ()


class Assignment(Protocol):
    """What scope is judged on: a complaint aggregate or its representation."""

    @property
    def assignee(self) -> str | None: ...

    @property
    def team(self) -> str | None: ...


# Short names, so that the table below reads as a matrix.
A, S, C, N, V, D = (
    Role.AGENT,
    Role.SUPERVISOR,
    Role.COMPLIANCE,
    Role.ANALYST,
    Role.SERVICE,
    Role.ADMIN,
)
ANY, OWN, TEAM = Scope.ANY, Scope.OWN_OR_TEAM, Scope.TEAM
EVERY_ROLE: dict[str, Scope] = {role: ANY for role in Role}
SYSTEM = "system"
"""The deadline watcher, in process. No token carries it: ``AccessToken.issue`` takes only a
``Role``, so no request can act as the watcher."""

_TABLE = [
    Permission("health.live", "Liveness (no figures)", {}, public=True),
    Permission("events.schema", "JSON Schema of the public events", {}, public=True),
    Permission("api.docs", "/docs, /redoc and /openapi.json", {}, public=True),
    Permission(
        "health.ready", "Readiness: database, tables, projection lag (no figures)", {}, public=True
    ),
    Permission("metrics.read", "Prometheus metrics (counts and positions)", {V: ANY, D: ANY}),
    Permission("complaint.file", "File a complaint", {A: ANY, S: ANY}),
    Permission(
        "complaint.read",
        "Read one complaint: by id or reference, as of an instant, its comments, its history",
        {A: OWN, S: TEAM, C: ANY},
    ),
    Permission(
        "complaint.list", "List complaints (filtered to the scope)", {A: OWN, S: TEAM, C: ANY}
    ),
    Permission("complaint.comment", "Comment on a complaint", {A: OWN, S: TEAM}),
    Permission(
        "complaint.assign",
        "Assign a complaint (an agent only takes it: to themselves, in one of their teams)",
        {A: OWN, S: TEAM},
    ),
    Permission("complaint.escalate", "Escalate a complaint", {A: OWN, S: TEAM}),
    Permission("complaint.close", "Close a complaint", {A: OWN, S: TEAM}),
    Permission("complaint.reopen", "Reopen a closed complaint", {S: TEAM}),
    Permission(
        "complaint.await_customer", "Wait for the customer (pauses resolution)", {A: OWN, S: TEAM}
    ),
    Permission("complaint.record_reply", "Record the customer's reply", {A: OWN, S: TEAM}),
    Permission("complaint.tag", "Add or remove a complaint's tag", {A: OWN, S: TEAM}),
    Permission("complaint.severity", "Change a complaint's severity", {A: OWN, S: TEAM}),
    Permission("sla.reapply", "Apply the SLA policy in force to a complaint again", {S: TEAM}),
    Permission("sla.record", "Record an SLA warning or breach (no route)", {SYSTEM: ANY}),
    Permission(
        "sla.read", "Read SLA calendars and policy", {A: ANY, S: ANY, C: ANY, N: ANY, D: ANY}
    ),
    Permission("sla.configure", "Change SLA calendars and policy", {S: ANY, D: ANY}),
    Permission(
        "sla.clocks",
        "List at-risk and breached SLA clocks (filtered to the scope)",
        {A: OWN, S: TEAM, C: ANY, N: ANY},
    ),
    Permission(
        "automation.read", "Read automation rules and dry-run one", {S: ANY, C: ANY, D: ANY}
    ),
    Permission("automation.configure", "Define and switch automation rules", {S: ANY, D: ANY}),
    Permission(
        "workload.read",
        "Read open cases per agent and team (filtered to the scope)",
        {S: TEAM, C: ANY, N: ANY},
    ),
    Permission("analytics.read", "Read the analytics summary", {S: ANY, C: ANY, N: ANY}),
    Permission("events.read", "Read the event feed", {C: ANY, N: ANY, V: ANY}),
    Permission("events.stream", "Stream the events (Server-Sent Events)", {C: ANY, V: ANY}),
    Permission("events.export", "Export the events (JSONL, Parquet)", {C: ANY, N: ANY, V: ANY}),
    Permission(
        "projections.read",
        "Read the read models' positions, lag and quarantined events",
        {C: ANY, D: ANY},
    ),
    Permission("projections.retry", "Apply quarantined events again", {D: ANY}),
    Permission(
        "subscriptions.read", "Read webhook subscriptions and their deliveries", {C: ANY, D: ANY}
    ),
    Permission(
        "subscriptions.manage", "Subscribe, unsubscribe, resume and redeliver webhooks", {D: ANY}
    ),
    Permission("tokens.read", "List API tokens (never a secret)", {C: ANY, D: ANY}),
    Permission("tokens.manage", "Issue and revoke API tokens", {D: ANY}),
    Permission("audit.verify", "Verify the event store's integrity", {C: ANY, D: ANY}),
    Permission("audit.checkpoints", "Read the audit checkpoints", {C: ANY}),
    Permission("audit.access_log", "Read the access log (who read what)", {C: ANY}),
    Permission("dossier.read", "Export a complaint's dossier", {C: ANY}),
    Permission(
        "customer.read",
        "Read a customer's complaint figures and latest complaints (no personal data)",
        {A: ANY, S: ANY, C: ANY},
    ),
    Permission("personal_data.erase", "Erase a customer's personal data", {C: ANY}),
    Permission("directory.read", "Read teams and agents", {A: ANY, S: ANY, C: ANY, D: ANY}),
    Permission(
        "directory.manage",
        "Define teams and register agents (a supervisor: within their teams)",
        {S: TEAM, D: ANY},
    ),
    Permission("routing.read", "Read the routing rules", {S: ANY, C: ANY, D: ANY}),
    Permission("routing.configure", "Change the routing rules", {S: ANY, D: ANY}),
    # closed loop (issue 12)
    Permission("remedy.propose", "Propose a remedy", {A: OWN, S: TEAM}),
    Permission(
        "remedy.approve",
        "Approve or reject a remedy above its proposer's limit (within your own limit)",
        {S: TEAM},
    ),
    Permission("remedy.fulfil", "Record an accepted remedy as fulfilled", {A: OWN, S: TEAM}),
    Permission("track.read", "Track a complaint with its access code (customer)", {}, public=True),
    Permission("track.reply", "Reply with the access code (customer)", {}, public=True),
    Permission(
        "track.remedy", "Accept or decline a remedy with the access code (customer)", {},
        public=True,
    ),
    Permission("survey.answer", "Answer a satisfaction survey (its token)", {}, public=True),
    # imports (issue 13)
    Permission("imports.run", "Import complaints from a spreadsheet (CSV, XLSX)", {D: ANY}),
    Permission("imports.read", "Read an import's progress and result", {D: ANY}),
]

PERMISSIONS: dict[str, Permission] = {p.action: p for p in _TABLE}
"""Every action by name."""

def permission(action: str) -> Permission:
    try:
        return PERMISSIONS[action]
    except KeyError:
        raise ValueError(f"no action {action!r} in the permission table") from None


def in_scope(scope: Scope, actor: Actor, complaint: Assignment) -> bool:
    if scope is Scope.ANY:
        return True
    team, assignee = complaint.team or None, complaint.assignee or None
    if team is not None and team in actor.teams:
        return True
    if scope is Scope.OWN_OR_TEAM:
        return assignee == actor.name or (team is None and assignee is None)
    return team is None


def authorize(action: str, actor: Actor, complaint: Assignment) -> None:
    """Raises ``ForbiddenError`` unless ``actor`` may take ``action`` on ``complaint``."""
    allowed = permission(action)
    scope = allowed.roles.get(actor.role)
    if scope is None:
        if allowed.public:
            return
        raise ForbiddenError(action, allowed.refusal(actor.role))
    if not in_scope(scope, actor, complaint):
        raise ForbiddenError(action, _outside(scope, actor, complaint))


def authorize_assignment(actor: Actor, assignee: str, team: str | None) -> None:
    """Agents pick work up, they do not hand it out: an agent assigns only to themselves, and
    only within one of their teams (or none). Supervisors assign to anyone, any team (handing a
    complaint over to another team is their call)."""
    if actor.role != Role.AGENT:
        return
    if assignee != actor.name:
        raise ForbiddenError(
            "complaint.assign", "an agent may assign a complaint only to themselves"
        )
    if team is not None and team not in actor.teams:
        raise ForbiddenError("complaint.assign", f"you do not act for the team {team!r}")


@dataclass(frozen=True)
class Reach:
    """Which complaints a list shows an actor (``reach`` of an action with a scope)."""

    teams: tuple[str, ...]
    assignee: str | None
    """An agent's own complaints, whatever their team."""
    teamless_assigned: bool
    """Complaints of no team assigned to someone (supervisors); the unassigned triage queue is
    always in reach."""


def reach(action: str, actor: Actor) -> Reach | None:
    """What a list for ``action`` may show ``actor``: None for everything. Raises
    ``ForbiddenError`` for a role the action does not allow."""
    allowed = permission(action)
    scope = allowed.roles.get(actor.role)
    if scope is None:
        raise ForbiddenError(action, allowed.refusal(actor.role))
    if scope is Scope.ANY:
        return None
    if scope is Scope.OWN_OR_TEAM:
        return Reach(actor.teams, actor.name, teamless_assigned=False)
    return Reach(actor.teams, None, teamless_assigned=True)


def _outside(scope: Scope, actor: Actor, complaint: Assignment) -> str:
    where = f"team {complaint.team!r}" if complaint.team else "no team"
    whose = f"assigned to {complaint.assignee!r}" if complaint.assignee else "unassigned"
    mine = ", ".join(actor.teams) or "no team"
    if scope is Scope.OWN_OR_TEAM:
        return f"the complaint is {whose}, of {where}; you act for your own and {mine}"
    return f"the complaint is of {where}; you supervise {mine}"
