"""Complaint commands and strongly consistent reads (from the event store)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import Field, WithJsonSchema

from api.blocking import in_thread
from api.deps import AppDep, ContextDep, LatestComplaintsDep, permit
from api.disclosure import Reader, ReaderDep, holding_of
from api.problems import problem_responses
from commands import models
from commands.application import CommandResult, ComplaintsApp
from commands.errors import ComplaintNotFoundError
from commands.input_types import SINGLE_LINE_PATTERN, PlausibleInstant
from commands.models import Command, FileComplaint
from commands.permissions import authorize
from queries.comments import DEFAULT_LIMIT, MAX_LIMIT, CommentPage, comment_page
from queries.complaint_state import (
    ComplaintPublic,
    complaint_as_of,
    get_complaint,
    get_complaint_as_of,
    read_complaint,
    represent,
)
from queries.history import History, read_history
from queries.latest_complaints import LatestComplaints
from queries.story import render_text, tell

router = APIRouter(prefix="/complaints", tags=["complaints"])

COMMAND_ERRORS = problem_responses(
    {
        400: "Malformed JSON or header",
        401: "Missing or invalid token",
        403: "Not allowed to your role, or the complaint is outside your teams",
        404: "Unknown complaint",
        409: "Illegal transition or concurrent update",
        412: "If-Match names a stale version",
        422: "Invalid field, or Idempotency-Key reused",
    }
)
AsOf = Annotated[
    PlausibleInstant | None,
    Query(description="ISO-8601 timestamp with offset: the complaint as it was then"),
]
# Ids that are not UUIDs are answered 404 (they can name no complaint), control characters 422.
ComplaintId = Annotated[
    str, Path(description="The complaint's id (a UUID)", json_schema_extra={"format": "uuid"})
]


def parse_id(complaint_id: str) -> UUID:
    try:
        return UUID(complaint_id)
    except ValueError:
        raise ComplaintNotFoundError(f"no complaint with id {complaint_id}") from None


def as_json(complaint: ComplaintPublic, status: int = 200, **headers: str) -> Response:
    """Serialises once: returning a Response skips FastAPI's second validation of the model
    (``response_model`` still documents the shape in OpenAPI)."""
    return Response(
        complaint.model_dump_json(),
        status_code=status,
        media_type="application/json",
        headers={"ETag": f'"{complaint.version}"', **headers},
    )


async def respond(
    app: ComplaintsApp, result: CommandResult, reader: Reader, status: int = 200, **headers: str
) -> Response:
    """Renders the complaint as the command left it (a replay renders the original version),
    as the sender may see it."""
    complaint = (
        represent(result.state, result.position, app.clock())
        if result.state is not None
        else get_complaint(app, result.complaint_id, version=result.version)
    )
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return as_json(await reader.complaint_async(complaint), status, **headers)


# Command routes are ``async``: the command is decided on the event loop (a cached complaint and
# one short query) and its save awaited while the group-commit writer writes, so a worker needs
# no thread per command in flight and no thread hop (both cost more CPU than the command itself;
# docs/performance.md).
class FiledComplaint(ComplaintPublic):
    access_code: str | None = Field(
        description="The customer's code for GET /track/{reference}: in this answer only, "
        "never again (not in a replay of the same Idempotency-Key either)"
    )


COMMAND_ENDPOINTS: set[Callable[..., Awaitable[Response]]] = set()
"""The endpoints of the commands (filing, and those on one complaint, each taking its body's
model, ``AppDep``, ``ContextDep`` and ``ReaderDep``): served by ``api/direct_routes.py``."""


@router.post(
    "",
    status_code=201,
    response_model=FiledComplaint,
    responses=COMMAND_ERRORS,
    dependencies=[permit("complaint.file")],
)
async def file_complaint(
    command: FileComplaint, app: AppDep, ctx: ContextDep, reader: ReaderDep
) -> Response:
    result = await app.file_complaint_async(command, ctx)
    response = await respond(
        app, result, reader, 201, Location=f"/complaints/{result.complaint_id}"
    )
    # Appended to the serialised complaint rather than validated into a second model: filing
    # is the hot path. A replay has no code (only its digest is stored): null.
    body = bytes(response.body)
    code = json.dumps(result.access_code).encode()
    response.body = body[:-1] + b',"access_code":' + code + b"}"
    response.headers["content-length"] = str(len(response.body))
    return response


COMMAND_ENDPOINTS.add(file_complaint)


@router.get(
    "/by-reference/{reference}",
    response_model=ComplaintPublic,
    responses=COMMAND_ERRORS,
    dependencies=[permit("complaint.read")],
)
async def get_by_reference(
    reference: Annotated[
        str,
        Path(
            description="C-XXXX-XXXX, in any case, O for 0 and I or L for 1 accepted",
            json_schema_extra={"pattern": SINGLE_LINE_PATTERN},
        ),
    ],
    latest: LatestComplaintsDep,
    reader: ReaderDep,
) -> Response:
    complaint = await in_thread(read_by_reference, latest, reference, reader)
    response = as_json(await reader.complaint_async(complaint))
    response.headers["Content-Location"] = f"/complaints/{complaint.id}"
    return response


def read_by_reference(latest: LatestComplaints, reference: str, reader: Reader) -> ComplaintPublic:
    return read_in_reach(latest, latest.app.resolve_reference(reference), reader)


def read_in_reach(latest: LatestComplaints, complaint_id: UUID, reader: Reader) -> ComplaintPublic:
    """The complaint if ``reader`` may read it; masked and access-logged by the caller, on the
    event loop (``Reader.complaint_async``), so no worker thread waits on the access log."""
    complaint = read_complaint(latest, complaint_id)
    authorize("complaint.read", reader.principal.actor, complaint)
    return complaint


def read_as_of_shown(
    latest: LatestComplaints, complaint_id: UUID, as_of: datetime, reader: Reader
) -> ComplaintPublic:
    """Masked by who holds the complaint now, not who held it then: a former assignee no
    longer sees the customer's contact details, in the past either."""
    current = latest.get(complaint_id)[0]
    # The scope is the complaint's as it is now: its past team does not decide who reads it today.
    authorize("complaint.read", reader.principal.actor, current)
    complaint = get_complaint_as_of(latest.app, complaint_id, as_of)
    return reader.complaint(complaint, holding_of(current))


@router.get(
    "/{complaint_id}",
    response_model=ComplaintPublic,
    responses=COMMAND_ERRORS,
    dependencies=[permit("complaint.read")],
)
async def get_one(
    complaint_id: ComplaintId,
    latest: LatestComplaintsDep,
    reader: ReaderDep,
    as_of: AsOf = None,
) -> Response:
    cid = parse_id(complaint_id)
    if as_of:
        return as_json(await in_thread(read_as_of_shown, latest, cid, as_of, reader))
    complaint = await in_thread(read_in_reach, latest, cid, reader)
    return as_json(await reader.complaint_async(complaint))


@router.get(
    "/{complaint_id}/comments",
    response_model=CommentPage,
    responses=COMMAND_ERRORS,
    dependencies=[permit("complaint.read")],
)
def comments(
    complaint_id: ComplaintId,
    app: AppDep,
    reader: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "pattern": "^[0-9a-f]{32}$"}),
        Query(max_length=100, description="`next_cursor` of the previous page (a comment's id)"),
    ] = None,
    as_of: AsOf = None,
) -> CommentPage:
    """All comments, oldest first, in pages (a complaint's representation embeds the latest)."""
    cid = parse_id(complaint_id)
    current = app.get_complaint(cid)
    authorize("complaint.read", reader.principal.actor, current)
    complaint = complaint_as_of(app, cid, as_of) if as_of is not None else current
    page = comment_page(complaint, limit=limit, cursor=cursor)
    return reader.comment_page(page, holding_of(current))


@router.get(
    "/{complaint_id}/history",
    response_model=History,
    responses=COMMAND_ERRORS
    | problem_responses({500: "A stored event does not decode (undecodable-event)"})
    | {200: {"content": {"text/plain": {}}}},
    dependencies=[permit("complaint.read")],
)
def history(
    complaint_id: ComplaintId,
    app: AppDep,
    reader: ReaderDep,
    format: Annotated[  # noqa: A002 - the query parameter's name
        Literal["json", "text"],
        Query(description="json: the events; text: the history told as a story, a line per "
              "event (who, which rule, what caused it, what happened)"),
    ] = "json",
) -> History | Response:
    events, complaint = read_history(app, parse_id(complaint_id))
    authorize("complaint.read", reader.principal.actor, complaint)
    shown = reader.history(events, holding_of(complaint))
    if format == "text":
        return PlainTextResponse(render_text(shown, tell(shown)))
    return shown


# Commands on one complaint, one route each: POST /complaints/{id}/<action>, the command's model
# as the body. Each honours If-Match and Idempotency-Key (read into the context).
def command_route(action: str, name: str, model: type[Command], permission: str) -> None:
    """Adds ``POST /complaints/{id}/<action>``, guarded by ``permission`` (the role here; the
    scope by the application, on the complaint it loads)."""

    async def route(
        complaint_id: ComplaintId,
        command: Command,
        app: AppDep,
        ctx: ContextDep,
        reader: ReaderDep,
    ) -> Response:
        result = await app.handle_async(parse_id(complaint_id), command, ctx)
        return await respond(app, result, reader)

    # FastAPI reads the body's model from the annotation (a string here, as in every module).
    route.__annotations__["command"] = model
    COMMAND_ENDPOINTS.add(route)
    router.add_api_route(
        f"/{{complaint_id}}/{action}",
        route,
        methods=["POST"],
        name=name,
        response_model=ComplaintPublic,
        responses=COMMAND_ERRORS,
        dependencies=[permit(permission)],
    )


command_route("assign", "assign", models.AssignComplaint, "complaint.assign")
command_route("comments", "comment", models.CommentOnComplaint, "complaint.comment")
command_route("escalate", "escalate", models.EscalateComplaint, "complaint.escalate")
command_route("close", "close", models.CloseComplaint, "complaint.close")
command_route("reopen", "reopen", models.ReopenComplaint, "complaint.reopen")
command_route("await-customer", "await_customer", models.AwaitCustomer, "complaint.await_customer")
command_route(
    "customer-replies",
    "record_customer_reply",
    models.RecordCustomerReply,
    "complaint.record_reply",
)
command_route("sla/reapply", "reapply_sla", models.ReapplySla, "sla.reapply")
command_route("tags", "tag", models.TagComplaint, "complaint.tag")
command_route("severity", "change_severity", models.ChangeSeverity, "complaint.severity")


@router.delete(
    "/{complaint_id}/tags/{tag}",
    response_model=ComplaintPublic,
    responses=COMMAND_ERRORS,
    dependencies=[permit("complaint.tag")],
)
async def untag(
    complaint_id: ComplaintId,
    tag: Annotated[
        str, Path(description="The tag to remove", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    ],
    app: AppDep,
    ctx: ContextDep,
    reader: ReaderDep,
    reason: Annotated[
        str | None,
        Query(min_length=1, max_length=2000, pattern=SINGLE_LINE_PATTERN, description="Why"),
    ] = None,
) -> Response:
    """Removes a tag (a person overriding a rule, say); 409 if the complaint does not carry it."""
    command = models.UntagComplaint.model_validate({"tag": tag, "reason": reason})
    result = await app.handle_async(parse_id(complaint_id), command, ctx)
    return await respond(app, result, reader)
