"""Request-scoped dependencies: the application service, the authenticated principal, context."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool

from api.problems import ProblemError
from api.request_log import current_request_id
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.errors import ForbiddenError
from commands.permissions import Actor, permission
from infra.logs import current_request
from queries.latest_complaints import LatestComplaints

# ``fullmatch``, not ``^...$``: ``$`` also matches before a trailing newline.
_HEADER_VALUE = re.compile(r"[\x21-\x7e]{1,200}")
# ASCII digits only (``str.isdigit`` also accepts "²" and "١", which ``int`` then refuses), and
# few enough of them that the version fits a PostgreSQL bigint.
_ETAG = re.compile(r'(?:W/)?"([0-9]{1,18})"|([0-9]{1,18})')


def header_format(pattern: str) -> WithJsonSchema:
    """A header's format, for the OpenAPI document only (a header that breaks it is answered by
    the code that reads it, here a 400 problem rather than FastAPI's 422). A header is absent or
    text, never null, so the schema has no null for clients to send as "null"."""
    return WithJsonSchema({"type": "string", "pattern": pattern})


VISIBLE_ASCII = header_format(r"^[\x21-\x7e]{1,200}$")
_ETAG_FORMAT = header_format(r'^(?:\*|(?:W/)?"[0-9]{1,18}"|[0-9]{1,18})$')


# The dependencies below are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in
# the thread pool, and five thread hops per request cost more CPU than the command itself.


async def get_app(request: Request) -> ComplaintsApp:
    return request.app.state.complaints  # type: ignore[no-any-return]


AppDep = Annotated[ComplaintsApp, Depends(get_app)]


async def get_latest_complaints(request: Request) -> LatestComplaints:
    return request.app.state.latest_complaints  # type: ignore[no-any-return]


LatestComplaintsDep = Annotated[LatestComplaints, Depends(get_latest_complaints)]


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    token_id: uuid.UUID
    """The token the request came with: long-lived requests re-check it (event streams)."""
    teams: tuple[str, ...] = ()
    """The teams the principal acts for."""
    grants: frozenset[str] = frozenset()
    """Rights beyond the role (``aggregates.vocabulary.Grant``)."""

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role, self.teams)


AuthorizationHeader = Annotated[str | None, Header()]
_PRINCIPAL = "complaints.principal"
"""Where the request's scope keeps its principal once authenticated."""


async def principal_of(request: Request, authorization: str | None) -> Principal:
    """The request's principal, authenticated once per request: the permission check, the
    command context and the reader all need it, and FastAPI solves a shared dependency's own
    parameters again for every dependency that names it (about 20 us each; docs/performance.md,
    "Request CPU, session 22")."""
    principal: Principal | None = request.scope.get(_PRINCIPAL)
    if principal is None:
        principal = await _authenticate(request.app.state.complaints, authorization)
        request.scope[_PRINCIPAL] = principal
    return principal


async def _authenticate(app: ComplaintsApp, authorization: str | None) -> Principal:
    unauthorised = {"WWW-Authenticate": 'Bearer realm="complaint-ledger"'}
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ProblemError(
            401,
            "unauthenticated",
            "Unauthenticated",
            "send Authorization: Bearer <token>",
            unauthorised,
        )
    secret = authorization[7:].strip()
    known, token = app.tokens.cached(secret)
    if not known:
        token = await run_in_threadpool(app.tokens.authenticate, secret)
    if token is None:
        raise ProblemError(
            401,
            "unauthenticated",
            "Unauthenticated",
            "the token is unknown or revoked",
            unauthorised,
        )
    if (fields := current_request.get()) is not None:  # for the log lines of this request
        fields.principal, fields.token_id = token.name, str(token.id)
    return Principal(token.name, token.role, token.id, token.teams, token.grants)


async def authenticate(request: Request, authorization: AuthorizationHeader = None) -> Principal:
    return await principal_of(request, authorization)


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def permit(action: str) -> Any:
    """The route's one permission check: ``Depends`` on it with the route's action from the
    permission table (commands/permissions.py). It answers 401 without a token and 403 for a
    role the action does not allow; the scope (which complaints) is checked where the complaint
    is loaded. Costs no database read: the token is cached."""
    allowed = permission(action)
    if allowed.public:

        async def public() -> None:
            return None

        public.permission_action = action  # type: ignore[attr-defined]
        return Depends(public)

    # Authenticates itself rather than naming ``PrincipalDep``: one dependency level fewer.
    async def check(request: Request, authorization: AuthorizationHeader = None) -> Principal:
        principal = await principal_of(request, authorization)
        if not allowed.allows(principal.role):
            raise ForbiddenError(action, allowed.refusal(principal.role))
        return principal

    check.permission_action = action  # type: ignore[attr-defined]
    return Depends(check)


IdempotencyKeyHeader = Annotated[
    str | None,
    VISIBLE_ASCII,
    Header(
        alias="Idempotency-Key",
        description="1-200 visible ASCII characters. A retry with the same key and body gets "
        "the original answer; the same key with another body is a 422.",
    ),
]
IfMatchHeader = Annotated[
    str | None,
    _ETAG_FORMAT,
    Header(
        alias="If-Match",
        description="The version the command expects, as the ETag it was served with "
        '(e.g. "3"), or *; 412 if the complaint has moved on',
    ),
]


def checked_idempotency_key(idempotency_key: str | None) -> str | None:
    if idempotency_key is not None and not _HEADER_VALUE.fullmatch(idempotency_key):
        raise ProblemError(
            400,
            "bad-header",
            "Bad header",
            "Idempotency-Key must be 1-200 visible ASCII characters",
        )
    return idempotency_key


def parsed_if_match(if_match: str | None) -> int | None:
    """Parses ``If-Match: "3"`` (also ``W/"3"`` or a bare ``3``); ``*`` means any version."""
    if if_match is None or if_match.strip() == "*":
        return None
    etag = _ETAG.fullmatch(if_match.strip())
    if etag is None:
        raise ProblemError(
            400,
            "bad-header",
            "Bad header",
            'If-Match must be one ETag such as "3" (ASCII digits, at most 18)',
            errors=[{"field": "If-Match", "reason": "is not an ETag this API issued"}],
        )
    return int(etag.group(1) or etag.group(2))


async def idempotency_key(idempotency_key: IdempotencyKeyHeader = None) -> str | None:
    return checked_idempotency_key(idempotency_key)


IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]


async def expected_version(if_match: IfMatchHeader = None) -> int | None:
    return parsed_if_match(if_match)


ExpectedVersionDep = Annotated[int | None, Depends(expected_version)]


# One dependency with its headers, not one per header: each dependency FastAPI solves costs
# about 10-20 us per request (docs/performance.md, "Request CPU, session 22").
async def command_context(
    request: Request,
    x_correlation_id: Annotated[
        str | None,
        VISIBLE_ASCII,
        Header(description="Recorded with the events (1-200 visible ASCII characters)"),
    ] = None,
    x_request_id: Annotated[
        str | None,
        VISIBLE_ASCII,
        Header(description="Recorded as the events' cause (1-200 visible ASCII characters)"),
    ] = None,
    authorization: AuthorizationHeader = None,
    key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
) -> CommandContext:
    principal = await principal_of(request, authorization)
    key = checked_idempotency_key(key)
    version = parsed_if_match(if_match)
    for name, value in (("X-Correlation-ID", x_correlation_id), ("X-Request-ID", x_request_id)):
        if value is not None and not _HEADER_VALUE.fullmatch(value):
            raise ProblemError(
                400, "bad-header", "Bad header", f"{name} must be 1-200 visible ASCII characters"
            )
    # The id the request is logged under, which is X-Request-ID if sent.
    request_id = x_request_id or current_request_id()
    return CommandContext(
        principal=principal.name,
        role=principal.role,
        correlation_id=x_correlation_id or request_id,
        causation_id=request_id,
        expected_version=version,
        idempotency_key=key,
        teams=principal.teams,
    )


ContextDep = Annotated[CommandContext, Depends(command_context)]
