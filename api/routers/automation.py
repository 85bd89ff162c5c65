"""Automation rules over HTTP (issue 12, ``docs/automation.md``): list, read, define or switch one
(the shipped defaults too), and dry-run one against a past complaint.

Reads and dry-runs need ``automation.read`` (supervisor, compliance, admin), writes
``automation.configure`` (supervisor, admin). A write honours ``If-Match`` (the rule's version;
``"0"`` for a default or a new id); each answer carries the rule's version as its ``ETag``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from api.deps import AppDep, ContextDep, Principal, permit
from api.problems import problem_responses
from commands.application import ComplaintsApp
from commands.automation_config import RuleVersion
from commands.automation_models import RULE_ID_PATTERN, DryRun, PutRule
from commands.errors import ComplaintNotFoundError

router = APIRouter(prefix="/automation", tags=["automation"])

ReaderDep = Annotated[Principal, permit("automation.read")]
WriterDep = Annotated[Principal, permit("automation.configure")]
READ_ERRORS = problem_responses({
    401: "Missing or invalid token",
    403: "Not a supervisor, compliance officer or admin",
    404: "No rule of that id (or no such complaint)",
    422: "Invalid path parameter or field",
})
WRITE_ERRORS = problem_responses({
    400: "Malformed JSON or header",
    401: "Missing or invalid token",
    403: "Not a supervisor or admin",
    409: "Changed by another request at the same time",
    412: "If-Match names a version other than the rule's",
    422: "Invalid field (the problem names it, e.g. if.all.0.field)",
})
RuleId = Annotated[
    str,
    Path(description="a-z, 0-9, _ and - (1-64); legal-risk, media-risk, repeat-customer are "
         "shipped", json_schema_extra={"pattern": RULE_ID_PATTERN}),
]


class RulePublic(BaseModel):
    rule_id: str
    version: int = Field(description="0: a shipped default, built in")
    built_in: bool
    name: str
    enabled: bool
    on: list[str]
    if_: dict[str, Any] | None = Field(alias="if")
    then: list[dict[str, Any]]
    reason: str | None
    changed_by: str | None
    changed_at: str | None
    disabled_by_setting: bool = Field(
        description="Switched off in this process by COMPLAINTS_AUTOMATION_DISABLED_RULES"
    )


class RuleList(BaseModel):
    rules: list[RulePublic]


class Match(BaseModel):
    event_version: int
    event_type: str
    actions: list[dict[str, Any]]


class DryRunResult(BaseModel):
    rule: str
    version: int
    matches: list[Match]


def _json(body: Any, status: int = 200, etag: int | None = None) -> Response:
    headers = {"ETag": f'"{etag}"'} if etag is not None else {}
    return Response(json.dumps(body, ensure_ascii=False), status_code=status,
                    media_type="application/json", headers=headers)


def _rule(app: ComplaintsApp, version: RuleVersion, status: int = 200) -> Response:
    return _json(shown(app, version), status, version.rule.version)


@router.get("/rules", response_model=RuleList, responses=READ_ERRORS)
def list_rules(app: AppDep, _: ReaderDep) -> Response:
    """Every rule in force, by id: the shipped defaults (version 0 until changed) and those
    defined."""
    return _json({"rules": [shown(app, v) for v in app.automation.versions()]})


@router.get("/rules/{rule_id}", response_model=RulePublic, responses=READ_ERRORS)
def get_rule(rule_id: RuleId, app: AppDep, _: ReaderDep) -> Response:
    return _rule(app, app.automation.version(rule_id))


@router.put(
    "/rules/{rule_id}",
    response_model=RulePublic,
    responses={201: {"description": "A new rule", "model": RulePublic}, **WRITE_ERRORS},
)
def put_rule(
    rule_id: RuleId, command: PutRule, app: AppDep, ctx: ContextDep, _: WriterDep
) -> Response:
    """Defines the rule's next version: the fields sent over the rule in force (``{"enabled":
    false}`` switches a default off), or a new rule (201). A rule already so records nothing."""
    saved = app.automation.put(rule_id, command, ctx)
    return _rule(app, saved.current, 201 if saved.created else 200)


@router.post("/rules/{rule_id}/dry-run", response_model=DryRunResult, responses=READ_ERRORS)
def dry_run(rule_id: RuleId, command: DryRun, app: AppDep, _: ReaderDep) -> Response:
    """What the rule (enabled or not) would do on each event of the complaint, replayed; nothing
    is saved."""
    try:
        complaint_id = UUID(command.complaint_id)
    except ValueError:
        raise ComplaintNotFoundError(f"no complaint with id {command.complaint_id}") from None
    return _json(app.automation.dry_run(rule_id, complaint_id))


def shown(app: ComplaintsApp, version: RuleVersion) -> dict[str, Any]:
    """A rule as answered: its definition, and whether this process's configuration switched it
    off (``COMPLAINTS_AUTOMATION_DISABLED_RULES``)."""
    return {
        **version.as_json(),
        "disabled_by_setting": version.rule.rule_id in app.automation.disabled,
    }
