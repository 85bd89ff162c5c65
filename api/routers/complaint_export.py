"""``GET /complaints/export``: the complaint list (its filters, every page) as one CSV or Parquet
file (``queries/complaint_export.py``), masked for the caller as the list is."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import Principal, permit
from api.disclosure import Reader, ReaderDep
from api.read_models import StoreDep, waits_for
from api.routers.complaint_list import ListQueryDep
from commands.permissions import reach
from queries import complaint_export
from queries.complaint_list import ComplaintPage

router = APIRouter(prefix="/complaints", tags=["complaints"])

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


@router.get(
    "/export",
    responses={200: {"content": {CSV_MEDIA_TYPE: {}, PARQUET_MEDIA_TYPE: {}},
                     "description": "The complaints, one file"}},
    response_class=Response,
)
async def export_complaints(
    store: StoreDep,
    principal: Annotated[Principal, permit("complaint.list")],
    reader: ReaderDep,
    _view: Annotated[None, waits_for("complaint_list")],
    query: ListQueryDep,
    format: Annotated[  # noqa: A002 - the query parameter's public name
        Literal["csv", "parquet"], Query(description="csv or parquet")
    ] = "csv",
) -> Response:
    """Every complaint of the list's filters (and the caller's scope), in the list's order, as
    one file: CSV with a header line, or Parquet. Read page by page: memory stays flat. Customer
    names are masked unless the token may see them."""
    filters = query.filters(reach("complaint.list", principal.actor))
    pages = _masked(complaint_export.pages(store, filters, sort=query.sort), reader)
    if format == "csv":
        return StreamingResponse(
            _csv_chunks(pages), media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="complaints.csv"'},
        )
    # Parquet ends with its footer: written whole to a temporary file, then sent and deleted.
    path = await run_in_threadpool(_parquet_file, pages)
    return FileResponse(
        path, media_type=PARQUET_MEDIA_TYPE, filename="complaints.parquet",
        background=BackgroundTask(os.unlink, path),
    )


def _masked(pages: Iterator[ComplaintPage], reader: Reader) -> Iterator[ComplaintPage]:
    for page in pages:
        yield reader.complaint_page(page)


def _csv_chunks(pages: Iterator[ComplaintPage]) -> Iterator[str]:
    """The CSV a page at a time (the header with the first)."""
    buffer = io.StringIO()
    header = True
    for page in pages:
        complaint_export.write_csv(iter([page]), buffer, header=header)
        header = False
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if header:
        complaint_export.write_csv(iter([]), buffer)
        yield buffer.getvalue()


def _parquet_file(pages: Iterator[ComplaintPage]) -> Path:
    fd, name = tempfile.mkstemp(prefix="complaints-", suffix=".parquet")
    os.close(fd)
    path = Path(name)
    try:
        complaint_export.write_parquet(pages, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
