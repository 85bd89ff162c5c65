"""The directory (issue 12): teams and agents as event-sourced aggregates, and the roster that lists
them.

A ``Team`` has a name and a supervisor (a principal name); an ``Agent`` (its id is the principal
name its token carries) has a display name, a team, skills (categories, products, regions,
languages it handles; an empty list means any), availability (on or off, e.g. leave) and an
approval limit for remedies. Ids are uuid5 of a fixed namespace and the team's or agent's id, like
the reference index (``aggregates/reference.py``), so a PUT finds its aggregate without an index,
and two first PUTs of one id at once collide on it.

Each change records the whole profile (who, why), and only when something changed: an identical
PUT records nothing. The ``Directory`` roster (fixed id) lists every team and agent id; it is
saved in the same save as a new team or agent, so listing and ``members(team)`` need one read,
and two new entries at once collide on its version (the loser retries).

Values are checked by the command models (``commands/directory_models.py``, 422 naming the field)
and stored as plain JSON. Event class names are stored topics: never rename one without an
upcaster.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from aggregates.provenance import Provenance

ROSTER_ID = uuid5(NAMESPACE_URL, "/directory")
SKILL_KINDS = ("categories", "products", "regions", "languages")

SkillsJSON = dict[str, list[str]]
"""``{"categories": [...], "products": [...], "regions": [...], "languages": [...]}``."""
MoneyJSON = dict[str, str]
"""``{"amount": "500.00", "currency": "CNY"}`` (``Money.to_json``)."""


def team_id(team: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/directory/teams/{team}")


def agent_id(agent: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/directory/agents/{agent}")


class _Changes(Aggregate):
    """What teams, agents and the roster share: provenance on every event."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None


class Team(_Changes):
    class Changed(_Changes.Event):
        """The team's whole profile as it now is."""

        name: str
        supervisor: str | None
        reason: str | None

        def apply(self, team: Team) -> None:
            team.name = self.name
            team.supervisor = self.supervisor
            team.reason = self.reason
            team.changed_by = self.actor
            team.changed_at = self.timestamp

    class Defined(Changed, Aggregate.Created):
        """The first PUT of the team (version 1)."""

        team_id: str

    if TYPE_CHECKING:
        name: str
        supervisor: str | None
        reason: str | None
        changed_by: str
        changed_at: datetime

    def __init__(self, team_id: str) -> None:
        self.team_id = team_id

    @classmethod
    def define(
        cls, team: str, *, name: str, supervisor: str | None, reason: str | None, by: Provenance
    ) -> Team:
        return cls._create(
            cls.Defined,
            id=team_id(team),
            team_id=team,
            name=name,
            supervisor=supervisor,
            reason=reason,
            **by.as_event_fields(),
        )

    def change(
        self, *, name: str, supervisor: str | None, reason: str | None, by: Provenance
    ) -> bool:
        """Records the new profile unless it is the current one; returns whether it did."""
        if (name, supervisor) == (self.name, self.supervisor):
            return False
        self.trigger_event(
            self.Changed, name=name, supervisor=supervisor, reason=reason, **by.as_event_fields()
        )
        return True


class Agent(_Changes):
    class ProfileChanged(_Changes.Event):
        """The agent's whole profile as it now is."""

        display_name: str
        team: str | None
        skills: SkillsJSON
        available: bool
        approval_limit: MoneyJSON | None
        reason: str | None

        def apply(self, agent: Agent) -> None:
            agent.display_name = self.display_name
            agent.team = self.team
            agent.skills = {kind: list(self.skills.get(kind, [])) for kind in SKILL_KINDS}
            agent.available = self.available
            agent.approval_limit = self.approval_limit
            agent.reason = self.reason
            agent.changed_by = self.actor
            agent.changed_at = self.timestamp

    class Registered(ProfileChanged, Aggregate.Created):
        """The first PUT of the agent (version 1)."""

        agent_id: str

    if TYPE_CHECKING:
        display_name: str
        team: str | None
        skills: SkillsJSON
        available: bool
        approval_limit: MoneyJSON | None
        reason: str | None
        changed_by: str
        changed_at: datetime

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id

    @classmethod
    def register(cls, agent: str, *, reason: str | None, by: Provenance, **profile: Any) -> Agent:
        """``profile``: display_name, team, skills, available, approval_limit."""
        return cls._create(
            cls.Registered,
            id=agent_id(agent),
            agent_id=agent,
            reason=reason,
            **_profile(**profile),
            **by.as_event_fields(),
        )

    def change(self, *, reason: str | None, by: Provenance, **profile: Any) -> bool:
        """Records the new profile unless it is the current one; returns whether it did."""
        new = _profile(**profile)
        if new == self.profile():
            return False
        self.trigger_event(self.ProfileChanged, reason=reason, **new, **by.as_event_fields())
        return True

    def profile(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "team": self.team,
            "skills": self.skills,
            "available": self.available,
            "approval_limit": self.approval_limit,
        }


def _profile(
    *,
    display_name: str,
    team: str | None,
    skills: SkillsJSON,
    available: bool,
    approval_limit: MoneyJSON | None,
) -> dict[str, Any]:
    return {
        "display_name": display_name,
        "team": team,
        # Every kind present, each list deduplicated in the order given: equal profiles compare
        # equal however they were sent.
        "skills": {kind: list(dict.fromkeys(skills.get(kind) or [])) for kind in SKILL_KINDS},
        "available": available,
        "approval_limit": approval_limit,
    }


class Directory(_Changes):
    """The roster: every team and agent id, in the order they were first put."""

    class Started(_Changes.Event, Aggregate.Created):
        pass

    class TeamListed(_Changes.Event):
        team_id: str

        def apply(self, roster: Directory) -> None:
            roster.teams = (*roster.teams, self.team_id)

    class AgentListed(_Changes.Event):
        agent_id: str

        def apply(self, roster: Directory) -> None:
            roster.agents = (*roster.agents, self.agent_id)

    def __init__(self) -> None:
        self.teams: tuple[str, ...] = ()
        self.agents: tuple[str, ...] = ()

    @classmethod
    def start(cls, by: Provenance) -> Directory:
        return cls._create(cls.Started, id=ROSTER_ID, **by.as_event_fields())

    def list_team(self, team: str, by: Provenance) -> None:
        if team not in self.teams:
            self.trigger_event(self.TeamListed, team_id=team, **by.as_event_fields())

    def list_agent(self, agent: str, by: Provenance) -> None:
        if agent not in self.agents:
            self.trigger_event(self.AgentListed, agent_id=agent, **by.as_event_fields())
