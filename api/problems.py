"""Every error leaves the API as an RFC 9457 problem details document (application/problem+json)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import eventsourcing.persistence
import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from aggregates.errors import (
    FieldError,
    IllegalTransitionError,
    RemedyNotFoundError,
    SurveyNotFoundError,
)
from commands.automation_config import RuleNotFoundError
from commands.directory import DirectoryNotFoundError
from commands.errors import (
    ComplaintNotFoundError,
    ConcurrencyConflictError,
    CustomerNotFoundError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    ImportNotFoundError,
    PreconditionFailedError,
    TokenNotFoundError,
)
from commands.sla_config import SlaConfigNotFoundError
from queries.errors import UndecodableEventError

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://complaint-ledger.dev/problems/"
MEDIA_TYPE = "application/problem+json"
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    eventsourcing.persistence.OperationalError,
    eventsourcing.persistence.InterfaceError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    sqlite3.OperationalError,
)
"""Errors that say the database could not be reached or was busy, not that the request is bad."""
STORE_RETRY_AFTER_SECONDS = 2
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
"""The JSON Schema of every problem document (RFC 9457 members plus ``errors``)."""


class ProblemError(Exception):
    """Raised by routes and dependencies to answer with a specific problem."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    kind: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def problem_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's OpenAPI ``responses``: a problem document for each status, with its meaning."""
    return {
        status: {"description": description, "content": {MEDIA_TYPE: {}}}
        for status, description in descriptions.items()
    }


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # pydantic appends the function name for model validators; keep the path readable.
    return ".".join(parts) or "body"


# Errors of the layers below, each answered as one problem type: exception -> (status, problem
# type, title). The detail is the error's message; ``_members`` adds what some errors carry.
PROBLEMS: dict[type[Exception], tuple[int, str, str]] = {
    FieldError: (422, "validation", "Invalid request"),
    ComplaintNotFoundError: (404, "not-found", "Complaint not found"),
    RemedyNotFoundError: (404, "not-found", "Remedy not found"),
    SurveyNotFoundError: (404, "not-found", "Survey not found"),
    TokenNotFoundError: (404, "not-found", "Token not found"),
    ImportNotFoundError: (404, "not-found", "Import not found"),
    CustomerNotFoundError: (404, "not-found", "Customer not found"),
    SlaConfigNotFoundError: (404, "not-found", "Not found"),
    DirectoryNotFoundError: (404, "not-found", "Not found"),
    RuleNotFoundError: (404, "not-found", "Not found"),
    ForbiddenError: (403, "forbidden", "Forbidden"),
    IllegalTransitionError: (409, "illegal-transition", "Not allowed now"),
    ConcurrencyConflictError: (409, "conflict", "Concurrent update"),
    PreconditionFailedError: (412, "precondition-failed", "Stale version"),
    IdempotencyKeyReusedError: (422, "idempotency-key-reused", "Key reused"),
    # The store itself is at fault and no request can mend it: a 500, but one that says which
    # event, and whether the hash chain shows it was changed (docs/audit.md).
    UndecodableEventError: (500, "undecodable-event", "Stored event does not decode"),
    # The same on other reads, named by the mapper (which event; no stored value in the detail).
    eventsourcing.persistence.MapperDeserialisationError: (
        500,
        "undecodable-event",
        "Stored event does not decode",
    ),
}


def _members(error: Exception) -> tuple[dict[str, str] | None, dict[str, Any]]:
    """The headers and extension members an error of ``PROBLEMS`` adds to its document."""
    if isinstance(error, FieldError):
        return None, {"errors": [{"field": error.field, "reason": error.reason}]}
    if isinstance(error, ForbiddenError):
        return None, {"action": error.action}
    if isinstance(error, PreconditionFailedError):
        return {"ETag": f'"{error.actual}"'}, {"current_version": error.actual}
    if isinstance(error, UndecodableEventError):
        return None, {
            "complaint_id": str(error.complaint_id),
            "version": error.version,
            "chain_verified": not error.chain_breaks,
            "chain_breaks": [b.model_dump(mode="json") for b in error.chain_breaks],
        }
    return None, {}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_failed(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem_response(
                request,
                400,
                "malformed-json",
                "Malformed JSON",
                "the request body is not valid JSON",
            )
        fields = [
            {"field": _field_name(tuple(e.get("loc", ()))), "reason": e.get("msg", "invalid")}
            for e in errors
        ]
        detail = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
        return problem_response(
            request, 422, "validation", "Invalid request", detail, errors=fields
        )

    def answer(status: int, kind: str, title: str) -> Any:
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            headers, members = _members(exc)
            return problem_response(request, status, kind, title, str(exc), headers, **members)

        return handle

    for error, (status, kind, title) in PROBLEMS.items():
        app.add_exception_handler(error, answer(status, kind, title))

    @app.exception_handler(ProblemError)
    async def problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.kind, exc.title, exc.detail, exc.headers, **exc.extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(
            request, exc.status_code, kind, str(exc.detail), str(exc.detail), headers
        )

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is down, restarting, or busy past the lock timeout: the request changed
        # nothing (a failed transaction rolls back), so the client may simply try again.
        # The route template, not the path: a path can name a customer (docs/operations.md#logs).
        route = getattr(request.scope.get("route"), "path", "(unmatched)")
        log.warning("store unavailable for %s %s: %s", request.method, route, exc)
        return problem_response(
            request,
            503,
            "store-unavailable",
            "Store unavailable",
            "the database did not answer in time; nothing was changed, try again",
            {"Retry-After": str(STORE_RETRY_AFTER_SECONDS)},
        )

    for unavailable in STORE_UNAVAILABLE:
        app.add_exception_handler(unavailable, store_unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            request, 500, "internal", "Internal error", "an unexpected error occurred"
        )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. Starlette's own 405 names only the methods of
    the first route whose path matched (``/subscriptions``: POST, not GET and POST)."""
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
