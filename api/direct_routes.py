"""The hottest routes, served past FastAPI's request handling: reading one complaint, filing
one, and the commands on one.

On these routes FastAPI's own part cost about as much CPU as the work: solving the route's
dependencies (it inspects each declared parameter's annotation again on every request, and
runs each dependency as a level of its own), then the ``APIRoute`` wrapper
(docs/performance.md, "Session 25"). Each route here is put first in the application's routes
and serves one declared route's requests by calling that route's own functions (its permission
check, the dependencies it names, its endpoint) in FastAPI's order, with the header values
FastAPI would pass them. So the answer, the access-log entry and every refusal (raised here and
answered by the same exception handlers) are the declared route's, which still documents the
path in OpenAPI and serves what these do not match: a query string, an id that is no UUID.

Each route checks at start-up that its declared route has exactly the dependencies it calls,
each taking exactly the headers it passes them, so a dependency or header added later to the
declared route cannot be skipped here unnoticed: the application refuses to start.
Tested answer for answer against the declared routes (tests/api/test_direct_routes.py).
"""

from __future__ import annotations

import email.message
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from api.deps import command_context, get_app, get_latest_complaints
from api.disclosure import reader as reader_of
from api.routers import complaints

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_MISSING = object()
"""An empty body."""


def install(api: FastAPI) -> None:
    """Puts the direct routes first in ``api``'s routes."""
    declared = [
        context for context in iter_route_contexts(api.routes)
        if isinstance(context.original_route, APIRoute)
    ]
    [get_one] = [c for c in declared if c.endpoint is complaints.get_one]
    direct: list[Route] = [DirectGetOne(get_one)]
    direct += [DirectCommand(c) for c in declared if c.endpoint in complaints.COMMAND_ENDPOINTS]
    api.router.routes[:0] = direct


class _Direct(Route):
    """Matches what its declared route would serve, when it has no query string and its
    ``{complaint_id}`` (if any) is a UUID; everything else falls through to the routes after
    it (``/complaints/export`` is declared before ``/complaints/{complaint_id}``)."""

    def __init__(
        self, context: RouteContext, expected: dict[Callable[..., Any], set[str]]
    ) -> None:
        declared = context.original_route
        assert isinstance(declared, APIRoute)
        [method] = list(declared.methods or ())
        super().__init__(declared.path, declared.endpoint, methods=[method])
        self.method = method
        self.declared = declared
        # As served: with the dependencies of the routers it was included through.
        dependant: Dependant = context.dependant
        headers = {d.call: _headers(d) for d in dependant.dependencies if d.call is not None}
        checks = [call for call in headers if hasattr(call, "permission_action")]
        if (
            len(checks) != 1
            or headers != {checks[0]: {"authorization"}, **expected}
            or dependant.header_params
            or {p.name for p in dependant.path_params} - {"complaint_id"}
            # Served only without a query string: its parameters take their defaults.
            or any(p.field_info.is_required() for p in dependant.query_params)
        ):
            raise RuntimeError(f"{method} {declared.path}: not the dependencies served directly")
        self.check: Callable[..., Any] = checks[0]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != self.method or scope["query_string"]:
            return Match.NONE, {}
        match, child_scope = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        complaint_id = child_scope["path_params"].get("complaint_id")
        if complaint_id is not None and not _UUID.fullmatch(complaint_id):
            return Match.NONE, {}
        child_scope["route"] = self.declared  # its template in the log line and the metrics
        return match, child_scope


class DirectGetOne(_Direct):
    """``GET /complaints/{complaint_id}`` (``get_one``). Its parameters are all text (the
    functions check them), so FastAPI would refuse none of these requests with a 422."""

    def __init__(self, context: RouteContext) -> None:
        super().__init__(
            context, {get_latest_complaints: set(), reader_of: {"x-purpose", "x-request-id"}}
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        headers = request.headers
        await self.check(request, headers.get("authorization"))
        latest = await get_latest_complaints(request)
        who = await reader_of(request, headers.get("x-purpose"), headers.get("x-request-id"))
        response = await self.declared.endpoint(
            **scope["path_params"], latest=latest, reader=who
        )
        await response(scope, receive, send)


class DirectCommand(_Direct):
    """``POST /complaints`` and ``POST /complaints/{complaint_id}/<action>``: the body read and
    validated against the route's model as FastAPI does, the command handled by the route."""

    def __init__(self, context: RouteContext) -> None:
        super().__init__(context, {
            get_app: set(),
            command_context: {
                "x-correlation-id", "x-request-id", "authorization", "idempotency-key", "if-match"
            },
            reader_of: {"x-purpose", "x-request-id"},
        })
        if self.declared.body_field is None:
            raise RuntimeError(f"POST {self.declared.path}: no body model")
        self.body_field = self.declared.body_field

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await _read_json(request)  # first, as FastAPI reads it before any dependency
        headers = request.headers
        authorization, request_id = headers.get("authorization"), headers.get("x-request-id")
        await self.check(request, authorization)
        app = await get_app(request)
        ctx = await command_context(
            request,
            x_correlation_id=headers.get("x-correlation-id"),
            x_request_id=request_id,
            authorization=authorization,
            key=headers.get("idempotency-key"),
            if_match=headers.get("if-match"),
        )
        who = await reader_of(request, headers.get("x-purpose"), request_id)
        if body is _MISSING:
            errors = [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        else:
            command, errors = self.body_field.validate(body, {}, loc=("body",))
        if errors:
            raise RequestValidationError(errors, body=None if body is _MISSING else body)
        response = await self.declared.endpoint(
            **scope["path_params"], command=command, app=app, ctx=ctx, reader=who
        )
        await response(scope, receive, send)


def _headers(dependant: Dependant) -> set[str] | None:
    """The headers a dependency takes, as FastAPI reads them (an underscore in a name without
    an alias is a hyphen); None when it takes anything else than the request and headers."""
    if dependant.dependencies or dependant.path_params or dependant.query_params or (
        dependant.cookie_params or dependant.body_params
    ):
        return None
    return {
        (p.alias if p.alias != p.name else p.name.replace("_", "-")).lower()
        for p in dependant.header_params
    }


async def _read_json(request: Request) -> Any:
    """The body as FastAPI reads it for a route with a JSON model (``get_request_handler``,
    strict content type): parsed when its type is ``application/json`` or ``+json``, otherwise
    its bytes (which the model then refuses); ``_MISSING`` when empty."""
    try:
        body = await request.body()
        if not body:
            return _MISSING
        content_type = request.headers.get("content-type")
        if content_type:
            message = email.message.Message()
            message["content-type"] = content_type
            if message.get_content_maintype() == "application":
                subtype = message.get_content_subtype()
                if subtype == "json" or subtype.endswith("+json"):
                    return json.loads(body)
        return body
    except json.JSONDecodeError as e:
        error = {
            "type": "json_invalid",
            "loc": ("body", e.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": e.msg},
        }
        raise RequestValidationError([error], body=e.doc) from e
    except HTTPException:
        raise
    except Exception as e:
        # As FastAPI answers a body it could not read (a client gone, say). A body over the
        # limit is answered 413 by ``BodySizeLimit`` whatever is raised here.
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from e
