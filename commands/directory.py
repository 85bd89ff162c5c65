"""The directory service (issue 12): teams and agents, stored as aggregates through the complaints
application (``app.directory``), and the ``DirectoryLookup`` the write side reads.

Writes (``put_team``, ``put_agent``) are upserts: the first PUT of an id defines the team or
registers the agent (with its entry on the roster, in the same save), a later PUT records the
whole new profile if anything changed; an identical PUT records nothing. ``If-Match`` is honoured
(``0``: not defined yet). Who may change what: admins everything; a supervisor only the teams
their token acts for, and only agents who are (and stay) in one of those teams.

Reads for people (``team_record``, ``teams``, ...) ask the store. The lookup the write side uses
on every filing (routing: a team's members, an agent's availability) answers from a process-local
snapshot of the whole directory instead, so routing costs no query per agent per filing:

- built once from the roster and every aggregate on it;
- kept fresh by tailing the notification log for directory events past the last one seen, one
  query, at most every ``cache_seconds`` (``COMPLAINTS_DIRECTORY_CACHE_SECONDS``): a change made
  by another process is seen within that time;
- a change made through this service is seen at once (the next lookup tails the log).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from aggregates.directory import ROSTER_ID, Agent, Directory, Team, agent_id, team_id
from aggregates.errors import InvalidIntakeError
from aggregates.money import Money
from commands.context import CommandContext
from commands.directory_lookup import AgentProfile, Skills, TeamProfile
from commands.directory_models import PutAgent, PutTeam
from commands.errors import ConcurrencyConflictError, ForbiddenError, PreconditionFailedError
from commands.permissions import Scope, authorize, permission

CACHE_SECONDS = 5.0
SAVE_ATTEMPTS = 3
TAIL_PAGE = 500
DIRECTORY_TOPICS = tuple(
    get_topic(cls)
    for cls in (Team.Defined, Team.Changed, Agent.Registered, Agent.ProfileChanged)
)
MANAGE = "directory.manage"


class DirectoryNotFoundError(LookupError):
    """No team or agent has the given id."""


class DirectoryPreconditionFailedError(PreconditionFailedError):
    def __init__(self, what: str, expected: int, actual: int) -> None:
        super().__init__(expected, actual)
        self.args = (f"{what} is at version {actual}, not {expected}",)


@dataclass(frozen=True)
class TeamRecord:
    profile: TeamProfile
    version: int
    reason: str | None
    changed_by: str
    changed_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.profile.team_id,
            "name": self.profile.name,
            "supervisor": self.profile.supervisor,
            "version": self.version,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat(),
        }


@dataclass(frozen=True)
class AgentRecord:
    profile: AgentProfile
    version: int
    reason: str | None
    changed_by: str
    changed_at: datetime

    def as_json(self) -> dict[str, Any]:
        p = self.profile
        return {
            "id": p.agent_id,
            "display_name": p.display_name,
            "team": p.team,
            "skills": {
                "categories": list(p.skills.categories),
                "regions": list(p.skills.regions),
                "products": list(p.skills.products),
                "languages": list(p.skills.languages),
            },
            "available": p.available,
            "approval_limit": p.approval_limit.to_json() if p.approval_limit else None,
            "version": self.version,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat(),
        }


@dataclass(frozen=True)
class Saved:
    """What a PUT left in force."""

    current: TeamRecord | AgentRecord
    created: bool
    """This PUT defined the team or registered the agent (HTTP 201)."""
    recorded: bool
    """A new version was recorded (False: identical to the one in force)."""


def team_record(team: Team) -> TeamRecord:
    return TeamRecord(
        TeamProfile(team.team_id, team.name, team.supervisor),
        team.version,
        team.reason,
        team.changed_by,
        team.changed_at,
    )


def agent_record(agent: Agent) -> AgentRecord:
    skills = agent.skills
    limit = agent.approval_limit
    profile = AgentProfile(
        agent_id=agent.agent_id,
        display_name=agent.display_name,
        team=agent.team,
        skills=Skills(
            categories=tuple(skills.get("categories", ())),
            products=tuple(skills.get("products", ())),
            regions=tuple(skills.get("regions", ())),
            languages=tuple(skills.get("languages", ())),
        ),
        available=agent.available,
        approval_limit=Money.from_json(limit) if limit else None,
    )
    return AgentRecord(profile, agent.version, agent.reason, agent.changed_by, agent.changed_at)


@dataclass(frozen=True)
class _Snapshot:
    """The whole directory as this process last read it."""

    teams: dict[str, TeamProfile] = field(default_factory=dict)
    agents: dict[str, AgentProfile] = field(default_factory=dict)
    members: dict[str, tuple[AgentProfile, ...]] = field(default_factory=dict)
    position: int = 0
    """The last notification id read: the next refresh reads what came after."""
    read_at: float = float("-inf")


class DirectoryService:
    """Teams and agents of one store (``app.directory``)."""

    def __init__(self, app: Application[UUID], cache_seconds: float = CACHE_SECONDS) -> None:
        self._app = app
        self.cache_seconds = cache_seconds
        self._snapshot: _Snapshot | None = None
        self._stale = True
        self._lock = threading.Lock()

    # ---- DirectoryLookup (from the snapshot) -----------------------------------------------

    def team(self, team_id: str) -> TeamProfile | None:
        return self._current().teams.get(team_id)

    def agent(self, agent_id: str) -> AgentProfile | None:
        return self._current().agents.get(agent_id)

    def members(self, team_id: str) -> Sequence[AgentProfile]:
        return self._current().members.get(team_id, ())

    # ---- writes ------------------------------------------------------------------------------

    def put_team(self, team: str, command: PutTeam, ctx: CommandContext) -> Saved:
        """Defines the team or records its new profile (nothing if unchanged)."""
        self._authorize(ctx, team)

        def change(existing: Team | None) -> tuple[Team, bool]:
            terms: dict[str, Any] = {
                "name": command.name,
                "supervisor": command.supervisor,
                "reason": command.reason,
                "by": ctx.provenance,
            }
            if existing is None:
                return Team.define(team, **terms), True
            return existing, existing.change(**terms)

        return self._put(
            ctx, f"team {team!r}", team_id(team), Team, change, team_record,
            lambda roster: roster.list_team(team, ctx.provenance),
        )

    def put_agent(self, agent: str, command: PutAgent, ctx: CommandContext) -> Saved:
        """Registers the agent or records its new profile (nothing if unchanged). Its team must
        be a team of the directory."""
        if command.team is not None and self._get(team_id(command.team), Team) is None:
            raise InvalidIntakeError("team", "names no team of the directory")
        existing_agent = self._get(agent_id(agent), Agent)
        self._authorize(ctx, command.team, existing_agent.team if existing_agent else None)
        profile = command.profile()

        def change(existing: Agent | None) -> tuple[Agent, bool]:
            if existing is None:
                return Agent.register(
                    agent, reason=command.reason, by=ctx.provenance, **profile
                ), True
            return existing, existing.change(reason=command.reason, by=ctx.provenance, **profile)

        return self._put(
            ctx, f"agent {agent!r}", agent_id(agent), Agent, change, agent_record,
            lambda roster: roster.list_agent(agent, ctx.provenance),
        )

    # ---- reads from the store ----------------------------------------------------------------

    def team_record(self, team: str) -> TeamRecord:
        found = self._get(team_id(team), Team)
        if found is None:
            raise DirectoryNotFoundError(f"no team {team[:100]!r} in the directory")
        return team_record(found)

    def agent_record(self, agent: str) -> AgentRecord:
        found = self._get(agent_id(agent), Agent)
        if found is None:
            raise DirectoryNotFoundError(f"no agent {agent[:100]!r} in the directory")
        return agent_record(found)

    def teams(self) -> list[TeamRecord]:
        """Every team, by id."""
        roster = self._get(ROSTER_ID, Directory)
        ids = sorted(roster.teams) if roster else []
        return [team_record(t) for i in ids if (t := self._get(team_id(i), Team)) is not None]

    def agents(self, team: str | None = None) -> list[AgentRecord]:
        """Every agent (of ``team`` if given), by id."""
        roster = self._get(ROSTER_ID, Directory)
        ids = sorted(roster.agents) if roster else []
        found = [agent_record(a) for i in ids if (a := self._get(agent_id(i), Agent)) is not None]
        return [a for a in found if team is None or a.profile.team == team]

    def team_ids(self) -> set[str]:
        """The ids of the teams (what routing rules may name), from the store."""
        roster = self._get(ROSTER_ID, Directory)
        return set(roster.teams) if roster else set()

    # ---- helpers -----------------------------------------------------------------------------

    def _authorize(self, ctx: CommandContext, *teams: str | None) -> None:
        """Admins manage everything; supervisors (scope ``team``) only within the teams their
        token acts for: the team put, an agent's new team and its current one."""
        authorize(MANAGE, ctx.actor, NoComplaint())
        if permission(MANAGE).roles.get(ctx.role) is not Scope.TEAM:
            return
        for team in teams:
            if team is not None and team not in ctx.teams:
                raise ForbiddenError(
                    MANAGE, f"you supervise {', '.join(ctx.teams) or 'no team'}, not {team!r}"
                )

    def _get(self, aggregate_id: UUID, kind: type[Any]) -> Any:
        try:
            found: object = self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def _put(
        self,
        ctx: CommandContext,
        what: str,
        aggregate_id: UUID,
        kind: type[Any],
        change: Callable[[Any], tuple[Any, bool]],
        record: Callable[[Any], Any],
        list_on: Callable[[Directory], None],
    ) -> Saved:
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            existing = self._get(aggregate_id, kind)
            at = existing.version if existing else 0
            if ctx.expected_version is not None and ctx.expected_version != at:
                raise DirectoryPreconditionFailedError(what, ctx.expected_version, at)
            aggregate, recorded = change(existing)
            if not recorded:
                return Saved(record(aggregate), False, False)
            extra: list[Directory] = []
            if existing is None:
                roster = self._get(ROSTER_ID, Directory) or Directory.start(ctx.provenance)
                list_on(roster)
                extra.append(roster)
            try:
                self._app.save(aggregate, *extra)
            except IntegrityError:
                # Another PUT of the same id, or another new entry on the roster, came first:
                # decide again on what is stored now.
                if attempt == SAVE_ATTEMPTS:
                    raise ConcurrencyConflictError(
                        f"{what} was changed by another request; try again"
                    ) from None
                continue
            finally:
                self._stale = True  # this process sees its own change at once
            return Saved(record(aggregate), existing is None, True)
        raise AssertionError("unreachable")

    # ---- the snapshot --------------------------------------------------------------------------

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if (
            snapshot is not None
            and not self._stale
            and time.monotonic() - snapshot.read_at < self.cache_seconds
        ):
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if (
                snapshot is not None
                and not self._stale
                and time.monotonic() - snapshot.read_at < self.cache_seconds
            ):
                return snapshot  # another thread refreshed it meanwhile
            self._stale = False
            snapshot = self._load() if snapshot is None else self._tail(snapshot)
            self._snapshot = snapshot
            return snapshot

    def _load(self) -> _Snapshot:
        """The whole directory: the roster and everything on it."""
        read_at = time.monotonic()
        # Taken first: whatever is recorded from here on is read again by the next tail.
        position = self._app.recorder.max_notification_id() or 0
        roster = self._get(ROSTER_ID, Directory)
        teams: dict[str, TeamProfile] = {}
        agents: dict[str, AgentProfile] = {}
        if roster is not None:
            for i in roster.teams:
                if (t := self._get(team_id(i), Team)) is not None:
                    teams[i] = team_record(t).profile
            for i in roster.agents:
                if (a := self._get(agent_id(i), Agent)) is not None:
                    agents[i] = agent_record(a).profile
        return _snapshot(teams, agents, position, read_at)

    def _tail(self, snapshot: _Snapshot) -> _Snapshot:
        """The snapshot brought up to date with the directory events recorded since it was read
        (one query when nothing changed)."""
        read_at = time.monotonic()
        teams, agents = dict(snapshot.teams), dict(snapshot.agents)
        position = snapshot.position
        while True:
            page = self._app.recorder.select_notifications(
                start=position + 1, limit=TAIL_PAGE, topics=DIRECTORY_TOPICS
            )
            for notification in page:
                aggregate = self._get(UUID(str(notification.originator_id)), object)
                if isinstance(aggregate, Team):
                    teams[aggregate.team_id] = team_record(aggregate).profile
                elif isinstance(aggregate, Agent):
                    agents[aggregate.agent_id] = agent_record(aggregate).profile
            if page:
                position = page[-1].id
            if len(page) < TAIL_PAGE:
                break
        if position == snapshot.position:
            return _Snapshot(
                snapshot.teams, snapshot.agents, snapshot.members, position, read_at
            )
        return _snapshot(teams, agents, position, read_at)


def _snapshot(
    teams: dict[str, TeamProfile], agents: dict[str, AgentProfile], position: int, read_at: float
) -> _Snapshot:
    members: dict[str, list[AgentProfile]] = {}
    for agent in sorted(agents.values(), key=lambda a: a.agent_id):
        if agent.team is not None:
            members.setdefault(agent.team, []).append(agent)
    return _Snapshot(
        teams, agents, {t: tuple(m) for t, m in members.items()}, position, read_at
    )


@dataclass(frozen=True)
class NoComplaint:
    """What an action on no complaint is judged on (its scope is checked above)."""

    assignee: str | None = None
    team: str | None = None
