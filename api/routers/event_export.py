"""``GET /events/export``: every public event (or a selection) as one JSONL or Parquet file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import AppDep, Principal, permit
from api.disclosure import ReaderDep
from api.routers.events import (
    FEED_ERRORS,
    AfterQuery,
    TypesDep,
    customers_of,
    invalid,
    settings_of,
)
from commands.input_types import PlausibleInstant
from stream.export import ExportFilter, jsonl, pages, write_parquet

router = APIRouter(prefix="/events", tags=["events"])

JSONL_MEDIA_TYPE = "application/x-ndjson"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


@router.get(
    "/export",
    responses={
        **FEED_ERRORS,
        200: {"content": {JSONL_MEDIA_TYPE: {}, PARQUET_MEDIA_TYPE: {}},
              "description": "The events, one file"},
    },
    response_class=Response,
)
async def export_events(
    request: Request,
    app: AppDep,
    _: Annotated[Principal, permit("events.export")],
    reader: ReaderDep,
    types: TypesDep,
    format: Annotated[  # noqa: A002 - the query parameter's public name
        Literal["jsonl", "parquet"], Query(description="jsonl or parquet")
    ] = "jsonl",
    start: Annotated[
        PlausibleInstant | None,
        Query(alias="from", description="Only events recorded at or after this instant"),
    ] = None,
    end: Annotated[
        PlausibleInstant | None,
        Query(alias="to", description="Only events recorded before this instant"),
    ] = None,
    after: AfterQuery = 0,
) -> Response:
    """The public events in position order as one file: JSON Lines (each line the envelope
    `GET /events` sends) or Parquet (the flat schema of docs/events.md). Read page by page:
    memory stays flat. Personal fields are masked unless the token may see them."""
    if start is not None and end is not None and end <= start:
        raise invalid("to", "must be later than from")
    settings = settings_of(request)
    selection = ExportFilter(after=after, types=types, start=start, end=end)
    customers = customers_of(request)

    def logged() -> Iterator[list[dict[str, Any]]]:
        for page in pages(
            app, selection, source=settings.events_source,
            personal_data=reader.viewer.sees_everything,
        ):
            reader.events(page, customers)
            yield page

    if format == "jsonl":
        return StreamingResponse(
            (jsonl(e) for page in logged() for e in page),
            media_type=JSONL_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="events.jsonl"'},
        )
    # Parquet ends with its footer: written whole to a temporary file, then sent and deleted.
    path = await run_in_threadpool(_parquet_file, logged())
    return FileResponse(
        path, media_type=PARQUET_MEDIA_TYPE, filename="events.parquet",
        background=BackgroundTask(os.unlink, path),
    )


def _parquet_file(envelopes: Iterator[list[dict[str, Any]]]) -> Path:
    fd, name = tempfile.mkstemp(prefix="events-", suffix=".parquet")
    os.close(fd)
    path = Path(name)
    try:
        write_parquet(envelopes, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path

