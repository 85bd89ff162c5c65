"""SLA configuration: business calendars and the policy, each change a version (issue 9).

Writes need the role supervisor or admin (403 for agents); reads any token. Each answer carries
the version as its ``ETag``; a write honours ``If-Match`` (the version last seen; ``"0"``: none
set yet) and ``Idempotency-Key`` as the complaint commands do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from aggregates.sla_calendar import NAME_PATTERN
from aggregates.vocabulary import SlaMetric
from api.deps import AppDep, ContextDep, Principal, permit
from api.problems import problem_responses
from api.read_models import StoreDep, invalid, waits_for
from commands.input_types import SINGLE_LINE, PlausibleInstant
from commands.permissions import reach
from commands.sla_config import CalendarVersion, PolicyVersion, Saved
from commands.sla_models import SetCalendar, SetPolicy
from queries import sla as sla_reads
from queries.errors import InvalidQueryError

router = APIRouter(prefix="/sla", tags=["sla"])

WriterDep = Annotated[Principal, permit("sla.configure")]
ReaderDep = Annotated[Principal, permit("sla.read")]
ClocksDep = Annotated[Principal, permit("sla.clocks")]
READ_ERRORS = problem_responses({
    401: "Missing or invalid token",
    404: "No calendar of that name, or no such version",
    422: "Invalid path parameter",
})
WRITE_ERRORS = problem_responses({
    400: "Malformed JSON or header",
    401: "Missing or invalid token",
    403: "Not a supervisor or admin",
    409: "Changed by another request at the same time",
    412: "If-Match names a version other than the current one",
    422: "Invalid field (the problem names it), or Idempotency-Key reused",
})
CalendarName = Annotated[
    str,
    Path(
        description="Lower-case letters, digits, '.', '_', '-' (1-64); 24x7 is built in",
        json_schema_extra={"pattern": NAME_PATTERN},
    ),
]
VersionNumber = Annotated[int, Path(ge=0, le=2**31 - 1, description="A version number")]


class CalendarPublic(BaseModel):
    name: str
    version: int = Field(description="1 for the first definition; 0 for the built-in 24x7")
    built_in: bool
    timezone: str
    working_hours: dict[str, list[list[str]]] = Field(
        description='Weekday ("mon" ... "sun") to [start, end] intervals; days without hours '
        "left out"
    )
    holidays: list[str]
    workdays: list[str]
    workday_hours: list[list[str]]
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None


class CalendarList(BaseModel):
    calendars: list[CalendarPublic]


class RulePublic(BaseModel):
    name: str
    when: dict[str, list[str] | None] = Field(
        description="severity, tier, category, channel: the values matched, null for any"
    )
    calendar: str
    first_response: str
    resolution: str
    at_risk_ratio: float


class EscalationPublic(BaseModel):
    on_first_response_breach: int
    on_resolution_breach: int
    still_open_after_resolution_breach: int
    still_open_after: str
    critical_at_filing: int


class PolicyPublic(BaseModel):
    version: int = Field(description="0: the built-in policy, in force until one is set")
    rules: list[RulePublic]
    escalation: EscalationPublic
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None


class PolicyList(BaseModel):
    versions: list[PolicyPublic] = Field(description="Oldest first, from version 0")


class CalendarVersions(BaseModel):
    versions: list[CalendarPublic] = Field(description="Oldest first")


def _json(body: Any, etag: int | None = None, status: int = 200, **headers: str) -> Response:
    if etag is not None:
        headers["ETag"] = f'"{etag}"'
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _version(v: CalendarVersion | PolicyVersion, status: int = 200, **headers: str) -> Response:
    """One version of a calendar or the policy, its version as the ``ETag``."""
    body = v.as_json()
    return _json(body, body["version"], status, **headers)


def _versions(key: str, versions: Sequence[CalendarVersion | PolicyVersion]) -> Response:
    return _json({key: [v.as_json() for v in versions]})


def _saved(
    saved: Saved[CalendarVersion] | Saved[PolicyVersion], location: str | None = None
) -> Response:
    """What a write left in force; a first version is a 201 at ``location`` where one is given
    (a calendar; the policy always exists, version 0 built in)."""
    headers = {"Idempotent-Replayed": "true"} if saved.replayed else {}
    if location is not None and saved.created:
        return _version(saved.current, 201, Location=location, **headers)
    return _version(saved.current, 200, **headers)


# ---- calendars -------------------------------------------------------------------------------


@router.get("/calendars", response_model=CalendarList, responses=READ_ERRORS)
def list_calendars(app: AppDep, _: ReaderDep) -> Response:
    """Every calendar as it is now: the built-in 24x7 first, then by name."""
    return _versions("calendars", app.sla.calendars())


@router.get("/calendars/{name}", response_model=CalendarPublic, responses=READ_ERRORS)
def get_calendar(name: CalendarName, app: AppDep, _: ReaderDep) -> Response:
    return _version(app.sla.calendar_version(name))


@router.get(
    "/calendars/{name}/versions", response_model=CalendarVersions, responses=READ_ERRORS
)
def calendar_versions(name: CalendarName, app: AppDep, _: ReaderDep) -> Response:
    """Every version of the calendar, oldest first, with who changed it, when and why."""
    return _versions("versions", app.sla.calendar_versions(name))


@router.get(
    "/calendars/{name}/versions/{version}", response_model=CalendarPublic, responses=READ_ERRORS
)
def calendar_version(
    name: CalendarName, version: VersionNumber, app: AppDep, _: ReaderDep
) -> Response:
    return _version(app.sla.calendar_version(name, version))


@router.put(
    "/calendars/{name}",
    response_model=CalendarPublic,
    responses={
        201: {"description": "The calendar's first version", "model": CalendarPublic},
        **WRITE_ERRORS,
    },
)
def put_calendar(
    name: CalendarName, command: SetCalendar, app: AppDep, ctx: ContextDep, _: WriterDep
) -> Response:
    """Defines the calendar (201) or records its next version (200; a definition already in
    force records nothing)."""
    return _saved(app.sla.set_calendar(name, command, ctx), f"/sla/calendars/{name}")


# ---- the policy ------------------------------------------------------------------------------


@router.get("/policy", response_model=PolicyPublic, responses=READ_ERRORS)
def get_policy(app: AppDep, _: ReaderDep) -> Response:
    """The policy in force (version 0, built in, until one is set)."""
    return _version(app.sla.policy_version())


@router.get("/policy/versions", response_model=PolicyList, responses=READ_ERRORS)
def policy_versions(app: AppDep, _: ReaderDep) -> Response:
    """Every version, oldest first, with who changed it, when and why."""
    return _versions("versions", app.sla.policy_versions())


@router.get("/policy/versions/{version}", response_model=PolicyPublic, responses=READ_ERRORS)
def policy_version(version: VersionNumber, app: AppDep, _: ReaderDep) -> Response:
    return _version(app.sla.policy_version(version))


@router.put("/policy", response_model=PolicyPublic, responses=WRITE_ERRORS)
def put_policy(command: SetPolicy, app: AppDep, ctx: ContextDep, _: WriterDep) -> Response:
    """Records the next version of the policy; it applies to complaints filed from now on (rules
    and escalation already in force record nothing)."""
    return _saved(app.sla.set_policy_command(command, ctx))


# ---- reading the clocks (the ``sla`` view) ---------------------------------------------------

Text = Annotated[Annotated[str, SINGLE_LINE] | None, Query(min_length=1, max_length=200)]
Limit = Annotated[int, Query(ge=1, le=sla_reads.MAX_LIMIT, description="At most this many items")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the previous page")
]
DEFAULT_BREACH_DAYS = 30


@router.get("/at-risk", response_model=sla_reads.AtRiskPage)
def at_risk(
    app: AppDep,
    store: StoreDep,
    reader: ClocksDep,
    _view: Annotated[None, waits_for("sla")],
    team: Text = None,
    assignee: Text = None,
    limit: Limit = sla_reads.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> sla_reads.AtRiskPage:
    """The clocks of open complaints at risk now (warned, or running past their at-risk
    instant) and not yet due, due soonest first."""
    try:
        only = sla_reads.SlaFilter(
            team=team, assignee=assignee, reach=reach("sla.clocks", reader.actor)
        )
        return sla_reads.at_risk(store, app.clock(), only, limit, cursor)
    except InvalidQueryError as e:
        raise invalid(e) from None


@router.get("/breaches", response_model=sla_reads.BreachPage)
def breaches(
    app: AppDep,
    store: StoreDep,
    reader: ClocksDep,
    _view: Annotated[None, waits_for("sla")],
    from_: Annotated[
        PlausibleInstant | None,
        Query(alias="from", description="Breached at or after this instant (default: `to` "
              f"less {DEFAULT_BREACH_DAYS} days)"),
    ] = None,
    to: Annotated[
        PlausibleInstant | None,
        Query(description="Breached before this instant (default: now); after `from`"),
    ] = None,
    metric: SlaMetric | None = None,
    team: Text = None,
    limit: Limit = sla_reads.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> sla_reads.BreachPage:
    """The breaches recorded in [from, to) by their instant (the due instant), newest first."""
    end = to or app.clock()
    start = from_ or end - timedelta(days=DEFAULT_BREACH_DAYS)
    try:
        only = sla_reads.SlaFilter(
            team=team, metric=metric.value if metric else None,
            reach=reach("sla.clocks", reader.actor),
        )
        return sla_reads.breaches(store, start, end, only, limit, cursor)
    except InvalidQueryError as e:
        raise invalid(e) from None
