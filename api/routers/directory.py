"""The directory (issue 12): teams and agents.

``PUT`` is an upsert: the first defines the team or registers the agent (201), later ones record
the whole new profile (200; an identical one records nothing). Each answer carries the version as
its ``ETag``; a PUT honours ``If-Match`` (``"0"``: not defined yet). Admins manage everything; a
supervisor only the teams their token acts for, and the agents in them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from api.deps import AppDep, ContextDep, Principal, permit
from api.problems import problem_responses
from commands.directory import AgentRecord, Saved, TeamRecord
from commands.directory_models import PutAgent, PutTeam
from commands.input_types import SINGLE_LINE

router = APIRouter(prefix="/directory", tags=["directory"])

ReaderDep = Annotated[Principal, permit("directory.read")]
ManagerDep = Annotated[Principal, permit("directory.manage")]
Id = Annotated[str, SINGLE_LINE, Path(min_length=1, max_length=100)]
READ_ERRORS = problem_responses({
    401: "Missing or invalid token",
    404: "No team or agent with that id",
    422: "Invalid path parameter",
})
WRITE_ERRORS = problem_responses({
    400: "Malformed JSON or header",
    401: "Missing or invalid token",
    403: "Not an admin, or a supervisor of another team",
    409: "Changed by another request at the same time",
    412: "If-Match names a version other than the current one",
    422: "Invalid field (the problem names it), e.g. a team not in the directory",
})


class TeamPublic(BaseModel):
    id: str
    name: str
    supervisor: str | None
    version: int
    reason: str | None
    changed_by: str
    changed_at: datetime


class SkillsPublic(BaseModel):
    categories: list[str]
    regions: list[str]
    products: list[str]
    languages: list[str]


class AgentPublic(BaseModel):
    id: str = Field(description="The principal name the agent's token carries")
    display_name: str
    team: str | None
    skills: SkillsPublic
    available: bool
    approval_limit: dict[str, str] | None = Field(
        description='{"amount": "500.00", "currency": "CNY"}, or null'
    )
    version: int
    reason: str | None
    changed_by: str
    changed_at: datetime


class TeamList(BaseModel):
    teams: list[TeamPublic]


class AgentList(BaseModel):
    agents: list[AgentPublic]


def _json(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status,
        media_type="application/json", headers=headers,
    )


def _one(record: TeamRecord | AgentRecord, status: int = 200, **headers: str) -> Response:
    return _json(record.as_json(), status, ETag=f'"{record.version}"', **headers)


def _saved(saved: Saved, location: str) -> Response:
    if saved.created:
        # Ids may be any text (a principal's name): percent-encoded, as a header must be ASCII.
        return _one(saved.current, 201, Location=quote(location))
    return _one(saved.current)


@router.get("/teams", response_model=TeamList, responses=READ_ERRORS)
def list_teams(app: AppDep, _: ReaderDep) -> Response:
    """Every team, by id."""
    return _json({"teams": [t.as_json() for t in app.directory.teams()]})


@router.get("/teams/{team_id}", response_model=TeamPublic, responses=READ_ERRORS)
def get_team(team_id: Id, app: AppDep, _: ReaderDep) -> Response:
    return _one(app.directory.team_record(team_id))


@router.put(
    "/teams/{team_id}",
    response_model=TeamPublic,
    responses={201: {"description": "The team is defined", "model": TeamPublic}, **WRITE_ERRORS},
)
def put_team(
    team_id: Id, command: PutTeam, app: AppDep, ctx: ContextDep, _: ManagerDep
) -> Response:
    """Defines the team (201) or records its new name and supervisor (200)."""
    return _saved(app.directory.put_team(team_id, command, ctx), f"/directory/teams/{team_id}")


@router.get("/agents", response_model=AgentList, responses=READ_ERRORS)
def list_agents(
    app: AppDep,
    _: ReaderDep,
    team: Annotated[
        Annotated[str, SINGLE_LINE] | None,
        Query(min_length=1, max_length=100, description="Only the agents of this team"),
    ] = None,
) -> Response:
    """Every agent (of a team), by id."""
    return _json({"agents": [a.as_json() for a in app.directory.agents(team)]})


@router.get("/agents/{agent_id}", response_model=AgentPublic, responses=READ_ERRORS)
def get_agent(agent_id: Id, app: AppDep, _: ReaderDep) -> Response:
    return _one(app.directory.agent_record(agent_id))


@router.put(
    "/agents/{agent_id}",
    response_model=AgentPublic,
    responses={
        201: {"description": "The agent is registered", "model": AgentPublic}, **WRITE_ERRORS
    },
)
def put_agent(
    agent_id: Id, command: PutAgent, app: AppDep, ctx: ContextDep, _: ManagerDep
) -> Response:
    """Registers the agent (201) or records its new profile (200). ``agent_id`` is the principal
    name its token carries."""
    return _saved(
        app.directory.put_agent(agent_id, command, ctx), f"/directory/agents/{agent_id}"
    )
