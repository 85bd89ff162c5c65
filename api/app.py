"""The FastAPI application factory."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import install_problem_handlers, problem_response
from api.query_guard import RefuseControlCharacters
from api.routers import (
    analytics,
    complaint_list,
    complaints,
    events,
    health,
    subscriptions,
    workload,
)
from api.routers import projections as projection_status
from commands.application import ComplaintsApp
from infra.settings import Settings
from infra.wiring import build_app

MAX_BODY_BYTES = 1_000_000
GIL_SWITCH_INTERVAL = 0.0005

ROUTERS = [health.router, complaints.router, events.router, subscriptions.router]
# The read side (issue 3); the list shares the /complaints prefix, and GET "" clashes with none.
ROUTERS += [complaint_list.router, workload.router, analytics.router, projection_status.router]


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` (by Content-Length) before any route reads them.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would add a task and a stream per
    request, measurably slowing every command.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                response = problem_response(
                    Request(scope),
                    413,
                    "too-large",
                    "Body too large",
                    f"request bodies are limited to {self.max_bytes} bytes",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, service: ComplaintsApp | None = None) -> FastAPI:
    """Builds the HTTP API over ``service`` (or a new one built from ``settings``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        # A writer holds the event table's lock (PostgreSQL) from its INSERT to its COMMIT; if its
        # thread then waits the default 5 ms for the GIL, every other writer waits too. A shorter
        # switch interval hands the GIL back sooner (measured: see docs/operations.md).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        owned = service is None
        api.state.complaints = service or build_app(settings)
        try:
            yield
        finally:
            if owned:
                api.state.complaints.close()

    api = FastAPI(
        title="complaint-ledger",
        version="0.1.0",
        description="Event-sourced customer-complaint handling. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `complaints tokens create`).",
        lifespan=lifespan,
    )
    api.state.settings = settings
    if service is not None:
        api.state.complaints = service
    install_problem_handlers(api)

    api.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    api.add_middleware(RefuseControlCharacters)

    for router in ROUTERS:
        api.include_router(router)
    return api
