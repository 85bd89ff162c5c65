"""The customer's side (issue 12): their complaint's tracking page, replies and answers to
remedies, with the access code the filing answered instead of a token.

The code comes in the ``X-Access-Code`` header, or as the ``access_code`` field of a POST's body
(JSON, or a form post from a plain HTML page). A wrong code is answered exactly like an unknown
reference (404, the same body); failures are counted per reference and per client address
(``api/failure_limit.py``), and past the limit every attempt is 429 with ``Retry-After``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from aggregates.reference import normalise_reference
from api.blocking import in_thread
from api.deps import VISIBLE_ASCII, AppDep, ExpectedVersionDep, IdempotencyKeyDep, permit
from api.failure_limit import FailureLimit
from api.problems import ProblemError, problem_responses
from commands.application import CUSTOMER, ComplaintsApp
from commands.context import CommandContext
from commands.errors import ComplaintNotFoundError
from commands.input_types import SINGLE_LINE_PATTERN
from commands.models import AcceptRemedy, Command, CustomerDecline, DeclineRemedy, TrackReply
from queries.tracking import Tracking, track, tracking

router = APIRouter(prefix="/track", tags=["tracking"])

TRACK_ERRORS = problem_responses(
    {
        400: "Malformed JSON or header",
        404: "Unknown reference, or a wrong or missing access code (the same answer)",
        409: "Not allowed now (a closed complaint, a remedy not offered)",
        412: "If-Match names a stale version",
        422: "Invalid field",
        429: "Too many wrong codes for this reference or from this address (Retry-After)",
    }
)
Reference = Annotated[
    str,
    Path(
        description="The complaint's reference, C-XXXX-XXXX (any case, O for 0, I or L for 1)",
        json_schema_extra={"pattern": SINGLE_LINE_PATTERN},
    ),
]
RemedyIdPath = Annotated[
    str,
    Path(
        description="A remedy's id from the tracking page",
        json_schema_extra={"pattern": "^[0-9a-f]{32}$"},
    ),
]
AccessCodeHeader = Annotated[
    str | None,
    VISIBLE_ASCII,
    Header(alias="X-Access-Code", description="The access code from the filing"),
]
M = TypeVar("M", bound=BaseModel)


async def get_limit(request: Request) -> FailureLimit:
    return request.app.state.track_limit  # type: ignore[no-any-return]


LimitDep = Annotated[FailureLimit, Depends(get_limit)]


def _keys(request: Request, reference: str) -> list[str]:
    client = request.client.host if request.client else "unknown"
    return [f"reference:{normalise_reference(reference)[:40]}", f"client:{client}"]


async def guarded(
    request: Request, limit: FailureLimit, reference: str, run: Callable[[], Awaitable[Any]]
) -> Any:
    """Runs ``run`` unless the reference or the client is blocked; a not-found (unknown
    reference or wrong code) counts as a failure."""
    keys = _keys(request, reference)
    if (wait := limit.retry_after(keys)) is not None:
        raise ProblemError(
            429,
            "too-many-attempts",
            "Too many attempts",
            "too many wrong access codes; try again later",
            {"Retry-After": str(wait)},
        )
    try:
        return await run()
    except ComplaintNotFoundError:
        limit.fail(keys)
        raise


async def body_of(request: Request, model: type[M]) -> tuple[M, str | None]:
    """The POST body as ``model`` (JSON, or a plain HTML form's urlencoded post: parsed here,
    without python-multipart), and its ``access_code`` field."""
    raw = await request.body()
    data: Any
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        try:
            data = dict(parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=20))
        except (UnicodeDecodeError, ValueError):
            raise ProblemError(
                400, "malformed-form", "Malformed form", "the form body does not parse"
            ) from None
    else:
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            raise ProblemError(
                400, "malformed-json", "Malformed JSON", "the request body is not valid JSON"
            ) from None
    if not isinstance(data, dict):
        data = {"": data}
    code = data.pop("access_code", None)
    try:
        return model.model_validate(data), code if isinstance(code, str) else None
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from None


def customer_context(key: str | None, version: int | None) -> CommandContext:
    request_id = uuid.uuid4().hex
    return CommandContext(
        principal=CUSTOMER,
        role=CUSTOMER,
        correlation_id=request_id,
        causation_id=request_id,
        expected_version=version,
        idempotency_key=key,
    )


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["properties"]["access_code"] = {
        "type": "string",
        "pattern": "^[\\x21-\\x7e]{1,200}$",
        "description": "Instead of the X-Access-Code header",
    }
    content = {"schema": schema}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": content,
                "application/x-www-form-urlencoded": content,
            },
        }
    }


def _answer(view: Tracking, status: int = 200) -> Response:
    return Response(view.model_dump_json(), status_code=status, media_type="application/json")


@router.get(
    "/{reference}",
    response_model=Tracking,
    responses=TRACK_ERRORS,
    dependencies=[permit("track.read")],
)
async def get_tracking(
    reference: Reference,
    request: Request,
    app: AppDep,
    limit: LimitDep,
    x_access_code: AccessCodeHeader = None,
) -> Response:
    async def run() -> Tracking:
        return await in_thread(track, app, reference, x_access_code or "")

    return _answer(await guarded(request, limit, reference, run))


async def _command(
    request: Request,
    app: ComplaintsApp,
    limit: FailureLimit,
    reference: str,
    header_code: str | None,
    command: Command,
    form_code: str | None,
    ctx: CommandContext,
) -> Response:
    code = header_code or form_code or ""

    async def run() -> Tracking:
        result = await app.handle_as_customer_async(reference, code, command, ctx)
        complaint = result.state or app.get_complaint(result.complaint_id)
        return tracking(complaint, app.directory, app.clock())

    return _answer(await guarded(request, limit, reference, run))


@router.post(
    "/{reference}/replies",
    response_model=Tracking,
    responses=TRACK_ERRORS,
    dependencies=[permit("track.reply")],
    openapi_extra=_body_schema(TrackReply),
)
async def reply(
    reference: Reference,
    request: Request,
    app: AppDep,
    limit: LimitDep,
    key: IdempotencyKeyDep,
    version: ExpectedVersionDep,
    x_access_code: AccessCodeHeader = None,
) -> Response:
    """``{"body"}``: the customer writes (any time before the close; a wait for their answer
    ends with it). Answers the tracking page."""
    command, code = await body_of(request, TrackReply)
    ctx = customer_context(key, version)
    return await _command(request, app, limit, reference, x_access_code, command, code, ctx)


@router.post(
    "/{reference}/remedies/{remedy_id}/accept",
    response_model=Tracking,
    responses=TRACK_ERRORS,
    dependencies=[permit("track.remedy")],
)
async def accept(
    reference: Reference,
    remedy_id: RemedyIdPath,
    request: Request,
    app: AppDep,
    limit: LimitDep,
    key: IdempotencyKeyDep,
    version: ExpectedVersionDep,
    x_access_code: AccessCodeHeader = None,
) -> Response:
    """Accepts the remedy offered. Answers the tracking page."""
    _, code = await body_of(request, _Empty)
    command = AcceptRemedy.model_construct(remedy_id=remedy_id)
    ctx = customer_context(key, version)
    return await _command(request, app, limit, reference, x_access_code, command, code, ctx)


@router.post(
    "/{reference}/remedies/{remedy_id}/decline",
    response_model=Tracking,
    responses=TRACK_ERRORS,
    dependencies=[permit("track.remedy")],
    openapi_extra=_body_schema(CustomerDecline),
)
async def decline(
    reference: Reference,
    remedy_id: RemedyIdPath,
    request: Request,
    app: AppDep,
    limit: LimitDep,
    key: IdempotencyKeyDep,
    version: ExpectedVersionDep,
    x_access_code: AccessCodeHeader = None,
) -> Response:
    """``{"reason"}``: declines the remedy offered; another may be proposed. Answers the
    tracking page."""
    body, code = await body_of(request, CustomerDecline)
    command = DeclineRemedy.model_construct(remedy_id=remedy_id, reason=body.reason)
    ctx = customer_context(key, version)
    return await _command(request, app, limit, reference, x_access_code, command, code, ctx)


class _Empty(BaseModel):
    """Accept takes no body besides an optional ``access_code``."""
