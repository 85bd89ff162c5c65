"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api.problems import install_problem_handlers, problem_response
from api.routers import complaints, health
from commands.application import ComplaintsApp
from infra.settings import Settings
from infra.wiring import build_app

MAX_BODY_BYTES = 1_000_000

ROUTERS = [health.router, complaints.router]


def create_app(settings: Settings | None = None, service: ComplaintsApp | None = None) -> FastAPI:
    """Builds the HTTP API over ``service`` (or a new one built from ``settings``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
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

    @api.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return problem_response(
                request, 413, "too-large", "Body too large",
                f"request bodies are limited to {MAX_BODY_BYTES} bytes",
            )
        return await call_next(request)

    for router in ROUTERS:
        api.include_router(router)
    return api
