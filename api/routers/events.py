"""The public event feed: cursor pages, a live Server-Sent Events stream, and the JSON Schema."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, WithJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api.deps import AppDep, Principal, header_format, permit
from api.disclosure import CustomerLookup, Reader, ReaderDep
from api.problems import ProblemError
from api.stream_slots import StreamSlot, StreamSlots, TooManyStreamsError
from commands.application import ComplaintsApp
from commands.input_types import MAX_POSITION, POSITION_PATTERN
from infra.settings import Settings
from queries.complaint_list import customer_ids
from stream.envelope import TYPE_CLASSES, json_schema
from stream.event_watcher import EventWatcher
from stream.feed import FeedPage, UnknownEventTypeError, read_page, topics_for

# Clients reconnect after this long when the connection drops (SSE `retry:` field).
RECONNECT_MILLISECONDS = 2000
# Positions are PostgreSQL bigints (and SQLite 64-bit integers): larger ones cannot be queried.
# ASCII only: str.isdigit() and \d also accept "²" or "١", which int() then refuses or misreads.
_POSITION = re.compile(r"[0-9]{1,19}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Comment lines sent just before the server ends a stream; clients ignore them, people debugging
# a consumer see why the connection closed.
TOKEN_ENDED = ": closing: the token was revoked or has expired\n\n"
LIFETIME_OVER = ": closing: maximum stream lifetime reached; reconnect with Last-Event-ID\n\n"
ACCESS_LOG_FAILED = ": closing: the access log could not be written; reconnect later\n\n"


router = APIRouter(prefix="/events", tags=["events"])

PROBLEM: dict[str, object] = {"content": {"application/problem+json": {}}}
FEED_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing or invalid token", **PROBLEM},
    422: {"description": "Invalid query parameter or header", **PROBLEM},
}
STREAM_ERRORS: dict[int | str, dict[str, object]] = {
    **FEED_ERRORS,
    429: {"description": "Too many open streams (per token or in total); see Retry-After",
          **PROBLEM},
}


class EventPage(BaseModel):
    events: list[dict[str, Any]]
    next_cursor: int


def invalid(field: str, reason: str) -> ProblemError:
    return ProblemError(
        422, "validation", "Invalid request", f"{field}: {reason}",
        errors=[{"field": field, "reason": reason}],
    )


def refuse_control_characters(field: str, value: str) -> None:
    # PostgreSQL text cannot hold NUL, and no type name or id contains control characters.
    if _CONTROL.search(value):
        raise invalid(field, "must not contain control characters")


def position(field: str, value: str) -> int:
    """A position sent as text (a header): ASCII digits only, at most a bigint."""
    text = value.strip()
    if not _POSITION.fullmatch(text) or int(text) > MAX_POSITION:
        raise invalid(field, f"must be a position: a whole number from 0 to {MAX_POSITION}")
    return int(text)


_TYPE_NAME = "|".join(name.replace(".", r"\.") for name in sorted(TYPE_CLASSES))
# One or more public types separated by commas, spaces around them and empty entries ignored.
TYPES_PATTERN = f"^ *(?:{_TYPE_NAME})? *(?:, *(?:{_TYPE_NAME})? *)*$"


def event_types(
    types: Annotated[
        list[str] | None,
        WithJsonSchema({"type": "array", "items": {"type": "string", "pattern": TYPES_PATTERN}}),
        Query(description="Public types to include, comma-separated or repeated "
              "(e.g. complaint.filed,complaint.closed); all when absent"),
    ] = None,
) -> list[str] | None:
    for value in types or []:
        refuse_control_characters("types", value)
    names = [t.strip() for value in types or [] for t in value.split(",") if t.strip()]
    try:
        topics_for(names)
    except UnknownEventTypeError as e:
        raise invalid("types", str(e)) from None
    return names or None


def aggregate(
    aggregate_id: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "format": "uuid"}),
        Query(description="Only this complaint's events"),
    ] = None,
) -> UUID | None:
    if aggregate_id is None:
        return None
    refuse_control_characters("aggregate_id", aggregate_id)
    try:
        return UUID(aggregate_id)
    except ValueError:
        raise invalid("aggregate_id", "must be a UUID") from None


TypesDep = Annotated[list[str] | None, Depends(event_types)]
AggregateDep = Annotated[UUID | None, Depends(aggregate)]
AfterQuery = Annotated[
    int,
    Query(ge=0, le=MAX_POSITION, description="Position to read after (0: from the beginning)"),
]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


@router.get("/schema", dependencies=[permit("events.schema")])
def schema() -> dict[str, Any]:
    """JSON Schema of the CloudEvents envelope and each type's `data` (no token needed)."""
    return json_schema()


@router.get("", response_model=EventPage, responses=FEED_ERRORS)
def list_events(
    request: Request,
    app: AppDep,
    _: Annotated[Principal, permit("events.read")],
    reader: ReaderDep,
    types: TypesDep,
    aggregate_id: AggregateDep,
    after: AfterQuery = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_POSITION, description="Page size (at most events_max_page)")
    ] = 100,
) -> EventPage:
    """Public events after a position, in position order. Continue with `after=next_cursor`.
    Personal fields are masked unless the token may see them (docs/events.md)."""
    settings = settings_of(request)
    if limit > settings.events_max_page:
        raise invalid("limit", f"must be at most {settings.events_max_page}")
    page = read_page(
        app, after=after, limit=limit, types=types, aggregate_id=aggregate_id,
        source=settings.events_source, personal_data=reader.viewer.sees_everything,
    )
    reader.events(page.events, customers_of(request))
    return EventPage(events=page.events, next_cursor=page.next_cursor)


def customers_of(request: Request) -> CustomerLookup:
    """Finds complaints' customers in the complaint list view, for the access log."""
    return partial(customer_ids, request.app.state.read_models)


def document_page_limit(openapi: dict[str, Any], max_page: int) -> None:
    """States this deployment's largest page of ``GET /events`` (a setting, so the route's
    signature cannot) in its OpenAPI document."""
    for parameter in openapi["paths"]["/events"]["get"]["parameters"]:
        if parameter["name"] == "limit":
            parameter["schema"]["maximum"] = max_page


class EventStreamResponse(StreamingResponse):
    """Frees the stream's slot however the response ends: done, client gone, or cancelled.

    The generator's own ``finally`` would not do: a generator that never started (the client left
    before the first byte) never runs it.
    """

    def __init__(self, events: AsyncGenerator[str, None], slot: StreamSlot) -> None:
        super().__init__(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._events = events
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()
            await self._events.aclose()


@router.get(
    "/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **STREAM_ERRORS},
    response_class=StreamingResponse,
)
def stream_events(
    request: Request,
    app: AppDep,
    principal: Annotated[Principal, permit("events.stream")],
    reader: ReaderDep,
    types: TypesDep,
    aggregate_id: AggregateDep,
    after: AfterQuery = 0,
    last_event_id: Annotated[
        str | None,
        header_format(POSITION_PATTERN),
        Header(
            alias="Last-Event-ID",
            description="Sent by SSE clients on reconnect (a position); wins over after",
        ),
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: one `data:` CloudEvent per event, `id:` = its position.

    The token is checked again before each batch of events and at each heartbeat: once it is
    revoked or expired, the stream ends before the next event. Streams also end after
    `stream_max_lifetime_seconds`; reconnect with `Last-Event-ID` to resume without gaps.
    """
    if last_event_id is not None:
        after = position("Last-Event-ID", last_event_id)
    settings = settings_of(request)
    slots: StreamSlots = request.app.state.stream_slots
    try:
        slot = slots.acquire(principal.token_id)
    except TooManyStreamsError as e:
        # A vanished client's connection is noticed at the latest by its next heartbeat.
        retry = str(math.ceil(settings.stream_heartbeat_seconds))
        raise ProblemError(
            429, "too-many-streams", "Too many event streams", str(e), {"Retry-After": retry}
        ) from None
    try:
        watcher: EventWatcher = request.app.state.event_watcher
        watcher.start()  # idempotent; most processes (and tests) never stream
        body = _sse(
            app, watcher, settings, Disclosing(reader, customers_of(request)), after, types,
            aggregate_id,
        )
        return EventStreamResponse(body, slot)
    except BaseException:
        slot.release()
        raise


@dataclass(frozen=True)
class Disclosing:
    """The stream's reader, and how to find its complaints' customers for the access log."""

    reader: Reader
    customers: CustomerLookup


def _read_checked(app: ComplaintsApp, to: Disclosing, **page_of: Any) -> tuple[FeedPage, bool]:
    """A page of the feed, and whether the token may still receive it.

    The token is read from the store after the page and before it is sent: a revocation recorded
    (by any process) before these events were is seen, so none of them goes out. One primary-key
    read per batch, in the same worker thread as the page (a second thread hop would cost more
    than the read), and none for an empty page. A page shown in clear is access-logged here,
    before it is sent (``ProblemError`` when that fails).
    """
    in_clear = to.reader.viewer.sees_everything
    page = read_page(app, personal_data=in_clear, **page_of)
    if not page.events:
        return page, True
    if app.tokens.recheck(to.reader.principal.token_id) is None:
        return page, False
    to.reader.events(page.events, to.customers)
    return page, True


async def _sse(
    app: ComplaintsApp,
    watcher: EventWatcher,
    settings: Settings,
    to: Disclosing,
    after: int,
    types: list[str] | None,
    aggregate_id: UUID | None,
) -> AsyncGenerator[str, None]:
    # Memory stays bounded for slow clients: one page is read only after the previous one has
    # been handed to the server, whose send() waits while the socket's buffer is full.
    heartbeat = settings.stream_heartbeat_seconds
    deadline = time.monotonic() + settings.stream_max_lifetime_seconds
    cursor = after
    yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
    last_sent = time.monotonic()
    while True:
        if time.monotonic() >= deadline:
            yield LIFETIME_OVER
            return
        generation = watcher.generation
        try:
            page, allowed = await run_in_threadpool(
                _read_checked, app, to, after=cursor, limit=settings.stream_page_size,
                types=types, aggregate_id=aggregate_id, source=settings.events_source,
            )
        except ProblemError:  # the access log could not be written: nothing more goes out
            yield ACCESS_LOG_FAILED
            return
        if not allowed:
            yield TOKEN_ENDED
            return
        for event in page.events:
            data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
            yield f"id: {event['position']}\ndata: {data}\n\n"
            last_sent = time.monotonic()
        cursor = page.next_cursor
        if page.more:
            continue
        now = time.monotonic()
        wait = max(0.0, min(heartbeat - (now - last_sent), deadline - now))
        await watcher.wait_async(generation, wait)
        if time.monotonic() - last_sent >= heartbeat:
            # Idle streams re-check at every heartbeat, so an expiry or a revocation also ends
            # a stream that has nothing to send.
            if await run_in_threadpool(app.tokens.recheck, to.reader.principal.token_id) is None:
                yield TOKEN_ENDED
                return
            # Comments keep proxies from closing idle connections and reveal dead clients.
            yield ": heartbeat\n\n"
            last_sent = time.monotonic()
