"""The public event feed: cursor pages, a live Server-Sent Events stream, and the JSON Schema."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import AppDep, PrincipalDep
from api.problems import ProblemError
from commands.application import ComplaintsApp
from infra.event_watcher import EventWatcher
from infra.settings import Settings
from queries.cloudevents import json_schema
from queries.event_feed import UnknownEventTypeError, read_page, topics_for

# Clients reconnect after this long when the connection drops (SSE `retry:` field).
RECONNECT_MILLISECONDS = 2000


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncIterator[None]:
    # Runs inside the application's own lifespan, so the service already exists and outlives us.
    settings: Settings = api.state.settings
    # Started by the first stream request: most processes (and tests) never stream.
    watcher = EventWatcher(api.state.complaints, settings.stream_poll_seconds)
    api.state.event_watcher = watcher
    try:
        yield
    finally:
        await run_in_threadpool(watcher.stop)


router = APIRouter(prefix="/events", tags=["events"], lifespan=lifespan)

PROBLEM: dict[str, object] = {"content": {"application/problem+json": {}}}
FEED_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing or invalid token", **PROBLEM},
    422: {"description": "Invalid query parameter or header", **PROBLEM},
}


class EventPage(BaseModel):
    events: list[dict[str, Any]]
    next_cursor: int


def invalid(field: str, reason: str) -> ProblemError:
    return ProblemError(
        422, "validation", "Invalid request", f"{field}: {reason}",
        errors=[{"field": field, "reason": reason}],
    )


def event_types(
    types: Annotated[
        list[str] | None,
        Query(description="Public types to include, comma-separated or repeated "
              "(e.g. complaint.filed,complaint.closed); all when absent"),
    ] = None,
) -> list[str] | None:
    names = [t.strip() for value in types or [] for t in value.split(",") if t.strip()]
    try:
        topics_for(names)
    except UnknownEventTypeError as e:
        raise invalid("types", str(e)) from None
    return names or None


def aggregate(
    aggregate_id: Annotated[str | None, Query(description="Only this complaint's events")] = None,
) -> UUID | None:
    if aggregate_id is None:
        return None
    try:
        return UUID(aggregate_id)
    except ValueError:
        raise invalid("aggregate_id", "must be a UUID") from None


TypesDep = Annotated[list[str] | None, Depends(event_types)]
AggregateDep = Annotated[UUID | None, Depends(aggregate)]
AfterQuery = Annotated[
    int, Query(ge=0, description="Position to read after (0: from the beginning)")
]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


@router.get("/schema")
def schema() -> dict[str, Any]:
    """JSON Schema of the CloudEvents envelope and each type's `data` (no token needed)."""
    return json_schema()


@router.get("", response_model=EventPage, responses=FEED_ERRORS)
def list_events(
    request: Request,
    app: AppDep,
    _: PrincipalDep,
    types: TypesDep,
    aggregate_id: AggregateDep,
    after: AfterQuery = 0,
    limit: Annotated[int, Query(ge=1, description="Page size (at most events_max_page)")] = 100,
) -> EventPage:
    """Public events after a position, in position order. Continue with `after=next_cursor`."""
    settings = settings_of(request)
    if limit > settings.events_max_page:
        raise invalid("limit", f"must be at most {settings.events_max_page}")
    page = read_page(
        app, after=after, limit=limit, types=types, aggregate_id=aggregate_id,
        source=settings.events_source,
    )
    return EventPage(events=page.events, next_cursor=page.next_cursor)


@router.get(
    "/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **FEED_ERRORS},
    response_class=StreamingResponse,
)
def stream_events(
    request: Request,
    app: AppDep,
    _: PrincipalDep,
    types: TypesDep,
    aggregate_id: AggregateDep,
    after: AfterQuery = 0,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Sent by SSE clients on reconnect; wins over after",
        ),
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: one `data:` CloudEvent per event, `id:` = its position."""
    if last_event_id is not None:
        if not last_event_id.strip().isdigit():
            raise invalid("Last-Event-ID", "must be a position (a non-negative integer)")
        after = int(last_event_id)
    watcher: EventWatcher = request.app.state.event_watcher
    watcher.start()
    body = _sse(app, watcher, settings_of(request), after, types, aggregate_id)
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(
    app: ComplaintsApp,
    watcher: EventWatcher,
    settings: Settings,
    after: int,
    types: list[str] | None,
    aggregate_id: UUID | None,
) -> AsyncIterator[str]:
    # Memory stays bounded for slow clients: one page is read only after the previous one has
    # been handed to the server, whose send() waits while the socket's buffer is full.
    cursor = after
    yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
    last_sent = time.monotonic()
    while True:
        generation = watcher.generation
        page = await run_in_threadpool(
            read_page, app, after=cursor, limit=settings.stream_page_size, types=types,
            aggregate_id=aggregate_id, source=settings.events_source,
        )
        for event in page.events:
            data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
            yield f"id: {event['position']}\ndata: {data}\n\n"
            last_sent = time.monotonic()
        cursor = page.next_cursor
        if page.more:
            continue
        idle = time.monotonic() - last_sent
        wait = max(0.0, settings.stream_heartbeat_seconds - idle)
        if not await watcher.wait_async(generation, wait) or (
            time.monotonic() - last_sent >= settings.stream_heartbeat_seconds
        ):
            # Comments keep proxies from closing idle connections and reveal dead clients.
            yield ": heartbeat\n\n"
            last_sent = time.monotonic()
