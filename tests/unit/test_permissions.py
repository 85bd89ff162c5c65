"""The scope rules of commands/permissions.py, case by case (no store needed)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aggregates.vocabulary import Role
from commands.errors import ForbiddenError
from commands.permissions import (
    PERMISSIONS,
    Actor,
    Reach,
    authorize,
    authorize_assignment,
    reach,
)


@dataclass(frozen=True)
class Case:
    assignee: str | None
    team: str | None


ANN = Actor("ann", "agent", ("east",))
SUE = Actor("sue", "supervisor", ("east",))
OLD_AGENT = Actor("ann", "agent")  # a token issued before teams existed
OLD_SUPERVISOR = Actor("sue", "supervisor")

TRIAGE = Case(None, None)
MINE_NO_TEAM = Case("ann", None)
MINE_IN_WEST = Case("ann", "west")
EAST = Case("bob", "east")
WEST = Case("walt", "west")
NOBODYS_TEAM = Case("dan", None)


@pytest.mark.parametrize(
    ("actor", "complaint", "allowed"),
    [
        (ANN, TRIAGE, True),
        (ANN, MINE_NO_TEAM, True),
        (ANN, MINE_IN_WEST, True),  # assigned to her by name, whatever the team
        (ANN, EAST, True),
        (ANN, WEST, False),
        (ANN, NOBODYS_TEAM, False),
        (SUE, TRIAGE, True),
        (SUE, EAST, True),
        (SUE, NOBODYS_TEAM, True),
        (SUE, WEST, False),
        (SUE, MINE_IN_WEST, False),
        (OLD_AGENT, TRIAGE, True),
        (OLD_AGENT, MINE_NO_TEAM, True),
        (OLD_AGENT, EAST, False),
        (OLD_SUPERVISOR, NOBODYS_TEAM, True),
        (OLD_SUPERVISOR, EAST, False),
        (Actor("cora", "compliance"), WEST, True),
    ],
)
def test_who_reaches_which_complaint(actor: Actor, complaint: Case, allowed: bool) -> None:
    if allowed:
        authorize("complaint.read", actor, complaint)
    else:
        with pytest.raises(ForbiddenError) as refused:
            authorize("complaint.read", actor, complaint)
        assert refused.value.action == "complaint.read"


@pytest.mark.parametrize(
    ("role", "action"),
    [
        ("compliance", "complaint.close"),
        ("analyst", "complaint.comment"),
        ("admin", "complaint.read"),
        ("service", "complaint.file"),
        ("agent", "complaint.reopen"),
        ("nobody", "complaint.read"),
        ("system", "complaint.close"),
    ],
)
def test_roles_outside_an_action_are_refused_on_any_complaint(role: str, action: str) -> None:
    with pytest.raises(ForbiddenError, match=f"the role {role} may not"):
        authorize(action, Actor("x", role, ("east",)), TRIAGE)


def test_only_the_watcher_records_sla_warnings_and_breaches() -> None:
    authorize("sla.record", Actor("sla-watcher", "system"), EAST)
    for role in Role:
        with pytest.raises(ForbiddenError):
            authorize("sla.record", Actor("x", role.value, ("east",)), EAST)


def test_an_agent_assigns_only_to_themselves_within_their_teams() -> None:
    authorize_assignment(ANN, "ann", "east")
    authorize_assignment(ANN, "ann", None)
    with pytest.raises(ForbiddenError, match="only to themselves"):
        authorize_assignment(ANN, "bob", "east")
    with pytest.raises(ForbiddenError, match="'west'"):
        authorize_assignment(ANN, "ann", "west")
    authorize_assignment(SUE, "walt", "west")  # a supervisor hands over to another team


def test_lists_reach_what_one_complaint_would() -> None:
    assert reach("complaint.list", ANN) == Reach(("east",), "ann", teamless_assigned=False)
    assert reach("complaint.list", SUE) == Reach(("east",), None, teamless_assigned=True)
    assert reach("complaint.list", Actor("cora", "compliance")) is None
    with pytest.raises(ForbiddenError):
        reach("complaint.list", Actor("andy", "analyst"))


def test_every_action_names_known_roles_and_a_verb_phrase() -> None:
    for action, permission in PERMISSIONS.items():
        assert permission.action == action
        assert set(permission.roles) <= {*Role, "system"}, action
        assert permission.public or permission.roles, action
        assert not (permission.public and permission.roles), action
