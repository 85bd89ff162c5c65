"""Remedies on a complaint (issue 12, the closed loop): propose, approve or reject, fulfil.
Each answers the remedy as the complaint shows it to the sender (masked like the complaint),
with the complaint's version as ``ETag``; If-Match and Idempotency-Key as on every command."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from aggregates.errors import RemedyNotFoundError
from api.deps import AppDep, ContextDep, permit
from api.disclosure import Reader, ReaderDep
from api.routers.complaints import COMMAND_ERRORS, ComplaintId, parse_id
from commands.application import CommandResult, ComplaintsApp
from commands.models import (
    ApproveRemedy,
    FulfilRemedy,
    ProposeRemedy,
    RejectRemedy,
    RemedyFulfilment,
    RemedyRejection,
)
from queries.complaint_state import RemedyPublic, get_complaint, represent

router = APIRouter(prefix="/complaints", tags=["remedies"])

RemedyIdPath = Annotated[
    str,
    Path(
        description="The remedy's id (32 hex digits)",
        json_schema_extra={"pattern": "^[0-9a-f]{32}$"},
    ),
]
ERRORS = COMMAND_ERRORS


async def answer_remedy(
    app: ComplaintsApp,
    result: CommandResult,
    reader: Reader,
    remedy_id: str | None,
    status: int = 200,
) -> Response:
    """The remedy ``remedy_id`` (``None``: the one just proposed, the latest) as the complaint
    the command left shows it to ``reader``."""
    complaint = (
        represent(result.state, result.position, app.clock())
        if result.state is not None
        else get_complaint(app, result.complaint_id, version=result.version)
    )
    shown = await reader.complaint_async(complaint)
    remedy: RemedyPublic | None = (
        shown.remedies[-1]
        if remedy_id is None and shown.remedies
        else next((r for r in shown.remedies if r.id == remedy_id), None)
    )
    if remedy is None:
        raise RemedyNotFoundError("the complaint has no such remedy")
    headers = {"ETag": f'"{shown.version}"'}
    if status == 201:
        headers["Location"] = f"/complaints/{shown.id}/remedies/{remedy.id}"
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        remedy.model_dump_json(), status_code=status, media_type="application/json",
        headers=headers,
    )


@router.post(
    "/{complaint_id}/remedies",
    status_code=201,
    response_model=RemedyPublic,
    responses=ERRORS,
    dependencies=[permit("remedy.propose")],
)
async def propose_remedy(
    complaint_id: ComplaintId,
    command: ProposeRemedy,
    app: AppDep,
    ctx: ContextDep,
    reader: ReaderDep,
) -> Response:
    """Above the sender's approval limit (the directory's; none without an entry) the remedy
    is ``awaiting_approval``, otherwise ``proposed`` (offered to the customer)."""
    result = await app.handle_async(parse_id(complaint_id), command, ctx)
    return await answer_remedy(app, result, reader, None, 201)


def _remedy_id(remedy_id: str) -> str:
    # Whatever is not 32 hex digits names no remedy: 404, not a validation error.
    if len(remedy_id) != 32 or any(c not in "0123456789abcdef" for c in remedy_id):
        raise RemedyNotFoundError(f"the complaint has no remedy {remedy_id[:40]!r}")
    return remedy_id


@router.post(
    "/{complaint_id}/remedies/{remedy_id}/approve",
    response_model=RemedyPublic,
    responses=ERRORS,
    dependencies=[permit("remedy.approve")],
)
async def approve_remedy(
    complaint_id: ComplaintId,
    remedy_id: RemedyIdPath,
    app: AppDep,
    ctx: ContextDep,
    reader: ReaderDep,
) -> Response:
    """By someone other than the proposer whose approval limit covers the remedy."""
    command = ApproveRemedy(remedy_id=_remedy_id(remedy_id))
    result = await app.handle_async(parse_id(complaint_id), command, ctx)
    return await answer_remedy(app, result, reader, remedy_id)


@router.post(
    "/{complaint_id}/remedies/{remedy_id}/reject",
    response_model=RemedyPublic,
    responses=ERRORS,
    dependencies=[permit("remedy.approve")],
)
async def reject_remedy(
    complaint_id: ComplaintId,
    remedy_id: RemedyIdPath,
    body: RemedyRejection,
    app: AppDep,
    ctx: ContextDep,
    reader: ReaderDep,
) -> Response:
    """Like approve; a new remedy may then be proposed."""
    command = RejectRemedy(remedy_id=_remedy_id(remedy_id), reason=body.reason)
    result = await app.handle_async(parse_id(complaint_id), command, ctx)
    return await answer_remedy(app, result, reader, remedy_id)


@router.post(
    "/{complaint_id}/remedies/{remedy_id}/fulfil",
    response_model=RemedyPublic,
    responses=ERRORS,
    dependencies=[permit("remedy.fulfil")],
)
async def fulfil_remedy(
    complaint_id: ComplaintId,
    remedy_id: RemedyIdPath,
    app: AppDep,
    ctx: ContextDep,
    reader: ReaderDep,
    body: RemedyFulfilment | None = None,
) -> Response:
    """Only a remedy the customer accepted."""
    note = body.note if body is not None else None
    command = FulfilRemedy(remedy_id=_remedy_id(remedy_id), note=note)
    result = await app.handle_async(parse_id(complaint_id), command, ctx)
    return await answer_remedy(app, result, reader, remedy_id)
