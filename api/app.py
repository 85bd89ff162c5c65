"""The FastAPI application factory."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.telemetry import TelemetryConfig
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import direct_routes
from api.failure_limit import FailureLimit
from api.problems import MEDIA_TYPE, PROBLEM_SCHEMA, install_problem_handlers, problem_response
from api.query_guard import RefuseControlCharacters
from api.request_log import RequestLog
from api.routers import (
    access_log,
    analytics,
    audit,
    automation,
    complaint_export,
    complaint_list,
    complaints,
    customers,
    directory,
    dossier,
    event_export,
    events,
    health,
    imports,
    metrics,
    product_issues,
    remedies,
    reports,
    routing,
    sla,
    subscriptions,
    surveys,
    tokens,
    tracking,
    workload,
)
from api.routers import projections as projection_status
from api.stream_slots import StreamSlots
from infra.access_log import AccessLog
from infra.bootstrap import Services, bootstrap
from infra.garbage_collection import collect_less_often
from infra.logs import configure_logging
from infra.settings import Settings
from queries.latest_complaints import LatestComplaints

GIL_SWITCH_INTERVAL = 0.0005

# The export first: ``/complaints/{complaint_id}`` would take ``/complaints/export``.
ROUTERS = [complaint_export.router]
ROUTERS += [health.router, complaints.router, events.router, subscriptions.router]
# The read side (issue 3); the list shares the /complaints prefix, and GET "" clashes with none.
ROUTERS += [complaint_list.router, workload.router, analytics.router, projection_status.router]
# SLA configuration (issue 9): calendars and the policy.
ROUTERS += [sla.router]
# Personal data (issue 11): who was shown which.
ROUTERS += [access_log.router]
# Erasure of a customer's personal data (issue 11).
ROUTERS += [customers.router]
# Tokens over HTTP, for admins (issue 11).
ROUTERS += [tokens.router]
# Tamper evidence (issue 11): verify the hash chain, list checkpoints.
ROUTERS += [audit.router, dossier.router]
# The directory and routing (issue 12).
ROUTERS += [directory.router, routing.router]
# Automation rules (issue 12).
ROUTERS += [automation.router]
# The closed loop with the customer (issue 12): remedies, tracking, surveys.
ROUTERS += [remedies.router, tracking.router, surveys.router]
# Export every event, import spreadsheets (issue 13).
ROUTERS += [event_export.router, imports.router]
# Charts (issue 13): the summary report as a page.
ROUTERS += [reports.router]
# Prometheus metrics (issue 14).
ROUTERS += [metrics.router]
# A view added after the fact (issue 13).
ROUTERS += [product_issues.router]


class BodyTooLargeError(Exception):
    """Raised from ``receive`` once a request body passes the limit, to stop whoever reads it."""


class BodySizeLimit:
    """Answers 413 to bodies over ``max_bytes``, counting the bytes actually received.

    ``Content-Length`` is only a claim: a chunked body has none, and one sent through a proxy or
    a test client can be longer than declared. So a declared excess is refused before anything is
    read, and ``receive`` is wrapped to count what really arrives. Past the limit it raises, which
    stops the route while it is still reading its body: FastAPI reads the whole body before
    calling the endpoint, so nothing has been decided or stored. Whatever answer the application
    then makes of the exception is dropped and replaced by the 413.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would add a task and a stream per
    request, measurably slowing every command.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.larger = larger or {}
        """Paths whose bodies may be larger (an import's upload), and their limits."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope["path"], self.default_max_bytes)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not _is_ascii_digits(length) or int(length) > max_bytes):
            await self._refuse(scope, receive, send, max_bytes)
            return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the application's answer to the exception; ours replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLargeError:
            pass  # a reader that let it through; answered below
        if exceeded and not started:
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            Request(scope),
            413,
            "too-large",
            "Body too large",
            f"request bodies are limited to {max_bytes} bytes",
            # The rest of the body is never read, so the connection cannot carry another request.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


# Answers any route may give, documented once so that clients (and schemathesis) know every 4xx
# is an RFC 9457 problem document, not FastAPI's default validation shape.
COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
    for status, description in (
        (400, "Malformed JSON or header"),
        (401, "Missing, unknown, revoked or expired token"),
        (403, "The token's role or scope does not allow the action (the problem names it)"),
        (413, "Body larger than COMPLAINTS_MAX_BODY_BYTES"),
        (422, "Invalid field, query parameter, header or path (the problem names it)"),
    )
}


def create_app(services: Services, *, owns_services: bool = False) -> FastAPI:
    """Builds the HTTP API over what ``bootstrap`` built. ``owns_services``: close them when
    the API shuts down (a process that built them for the API alone); otherwise their builder
    does."""
    settings = services.settings

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        # A writer holds the event table's lock (PostgreSQL) from its INSERT to its COMMIT; if its
        # thread then waits the default 5 ms for the GIL, every other writer waits too. A shorter
        # switch interval hands the GIL back sooner (measured: see docs/operations.md).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        try:
            yield
        finally:
            if owns_services:
                await run_in_threadpool(services.close)

    api = FastAPI(
        title="complaint-ledger",
        version="0.1.0",
        description="Event-sourced customer-complaint handling. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `complaints tokens create`).",
        lifespan=lifespan,
        responses=COMMON_PROBLEMS,
        telemetry=telemetry(services),
    )
    # What the routes' dependencies hand out (``api/deps.py``, ``api/read_models.py``, ...).
    api.state.settings = settings
    api.state.complaints = services.app
    api.state.latest_complaints = LatestComplaints(services.app)
    api.state.read_models = services.read_models
    api.state.analytics_as_of = services.analytics_as_of
    api.state.position_watcher = services.position_watcher
    api.state.event_watcher = services.event_watcher
    api.state.webhook_store = services.webhook_store
    api.state.access_log = AccessLog(services.read_models)
    api.state.data_keys = services.data_keys
    api.state.import_jobs = services.import_jobs
    api.state.audit = services
    api.state.stream_slots = StreamSlots(
        settings.stream_max_connections, settings.stream_max_connections_per_token
    )
    api.state.track_limit = FailureLimit(
        settings.track_max_failures, settings.track_failure_window_seconds
    )
    install_problem_handlers(api)

    api.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger={"/imports": settings.import_max_bytes},
    )
    api.add_middleware(RefuseControlCharacters)
    # Outermost: every answer logged (and traced) with its request id, counted and timed.
    api.state.metrics = services.metrics
    api.add_middleware(RequestLog, tracing=services.tracing, metrics=services.metrics)

    for router in ROUTERS:
        api.include_router(router)
    direct_routes.install(api)
    document_settings(api, settings)
    return api


def telemetry(services: Services) -> TelemetryConfig:
    """FastAPI's own OpenTelemetry support opens the request spans once a tracer provider is
    configured (ours when tracing is on, infra/tracing.py). Never its OpenTelemetry logs: they
    record a refused request's input values, personal data; nor its metrics (``/metrics``)."""
    config: TelemetryConfig = {"logs": False, "metrics": False}
    if services.tracing is not None:
        config["tracer_provider"] = services.tracing.provider
    return config


def create_worker_app() -> FastAPI:
    """The API of one worker process of ``serve --workers N`` (a uvicorn factory): built from
    the environment, closed with the process's server."""
    collect_less_often()
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(bootstrap(settings), owns_services=True)


def document_settings(api: FastAPI, settings: Settings) -> None:
    """Writes limits that are settings into the OpenAPI document, which FastAPI derives from the
    routes' signatures alone."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            events.document_page_limit(generate(), settings.events_max_page)
        return api.openapi_schema  # type: ignore[return-value]

    api.openapi = openapi  # type: ignore[method-assign]
