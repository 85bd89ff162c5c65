"""What the write side reads of the directory (teams and agents, issue 12): a team's supervisor,
an agent's availability, skills and approval limit. The directory service
(``commands/directory.py``, ``ComplaintsApp.directory``) answers it from its aggregates;
``EmptyDirectory`` stands in where no application is (unit tests of the rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aggregates.money import Money


@dataclass(frozen=True)
class Skills:
    """What an agent handles; an empty list means any."""

    categories: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamProfile:
    team_id: str
    name: str
    supervisor: str | None
    """The supervisor's principal name."""


@dataclass(frozen=True)
class AgentProfile:
    agent_id: str
    """The principal name the agent's token carries."""
    display_name: str
    team: str | None
    skills: Skills = field(default_factory=Skills)
    available: bool = True
    approval_limit: Money | None = None
    """Remedies up to this amount need no approval; ``None``: every remedy needs one."""


class DirectoryLookup(Protocol):
    def team(self, team_id: str) -> TeamProfile | None: ...

    def agent(self, agent_id: str) -> AgentProfile | None: ...

    def members(self, team_id: str) -> Sequence[AgentProfile]:
        """The team's agents (available or not)."""
        ...


class EmptyDirectory:
    """No teams, no agents."""

    def team(self, team_id: str) -> TeamProfile | None:
        return None

    def agent(self, agent_id: str) -> AgentProfile | None:
        return None

    def members(self, team_id: str) -> Sequence[AgentProfile]:
        return ()
