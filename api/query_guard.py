"""Refuses control characters in the path and in every query parameter, for every route.

A safety net under the per-parameter validation (which names fields just as precisely, and still
applies to in-process callers): a NUL reaching PostgreSQL as a parameter is a ``DataError`` (a 500),
and no route has a use for control characters in its path or query. Checked once here, a route
added later is covered without remembering to use the right parameter type.
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import problem_response
from commands.input_types import unsafe_character_reason


class RefuseControlCharacters:
    """Answers 422 (RFC 9457, naming the parameter) before any route runs.

    A plain ASGI middleware, like ``BodySizeLimit``: cheap enough to run on every request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = first_refusal(scope)
            if refused is not None:
                field, reason = refused
                response = problem_response(
                    Request(scope),
                    422,
                    "validation",
                    "Invalid request",
                    f"{field}: {reason}",
                    errors=[{"field": field, "reason": reason}],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def first_refusal(scope: Scope) -> tuple[str, str] | None:
    """(field, reason) for the first unsafe path or query parameter, or None."""
    reason = unsafe_character_reason(scope.get("path", ""), multi_line=False)
    if reason:
        return "path", reason
    query = scope.get("query_string", b"")
    if not query:
        return None
    for name, value in QueryParams(query).multi_items():
        reason = unsafe_character_reason(name, multi_line=False)
        if reason:
            return "query", f"a parameter name {reason.removeprefix('must be a single line: ')}"
        reason = unsafe_character_reason(value, multi_line=False)
        if reason:
            return name, reason
    return None
