"""Routing rules (issue 12): ordered, first match wins, each change a version.

The answer carries the version as its ``ETag``; a PUT honours ``If-Match`` (``"0"``: none
published yet). How rules are applied: docs/routing.md.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import AppDep, ContextDep, Principal, permit
from api.problems import problem_responses
from commands.routing_models import PutRoutingRules
from commands.routing_rules import RulesVersion

router = APIRouter(prefix="/routing", tags=["routing"])

ReaderDep = Annotated[Principal, permit("routing.read")]
WriterDep = Annotated[Principal, permit("routing.configure")]


class RulePublic(BaseModel):
    name: str
    when: dict[str, list[str]] = Field(
        description="category, region, channel, tier, severity, product: the values matched; "
        "an empty list matches any"
    )
    team: str


class RulesPublic(BaseModel):
    version: int = Field(description="0: no rules published yet (nothing is routed)")
    rules: list[RulePublic]
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None


def _answer(rules: RulesVersion) -> Response:
    return Response(
        json.dumps(rules.as_json(), ensure_ascii=False),
        media_type="application/json",
        headers={"ETag": f'"{rules.version}"'},
    )


@router.get(
    "/rules",
    response_model=RulesPublic,
    responses=problem_responses({401: "Missing or invalid token", 403: "Not permitted"}),
)
def get_rules(app: AppDep, _: ReaderDep) -> Response:
    """The routing rules in force."""
    return _answer(app.routing_rules.current())


@router.put(
    "/rules",
    response_model=RulesPublic,
    responses=problem_responses({
        400: "Malformed JSON or header",
        401: "Missing or invalid token",
        403: "Not a supervisor or admin",
        409: "Changed by another request at the same time",
        412: "If-Match names a version other than the current one",
        422: "Invalid field (the problem names it), e.g. a team not in the directory",
    }),
)
def put_rules(
    command: PutRoutingRules, app: AppDep, ctx: ContextDep, _: WriterDep
) -> Response:
    """Publishes the next version of the rules (rules identical to those in force record
    nothing); they apply to complaints filed from now on."""
    return _answer(app.routing_rules.publish(command, ctx).current)
