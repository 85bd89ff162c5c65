"""/imports (issue 13): an admin uploads a CSV or XLSX file with a built-in mapping; the import
runs as a job in a background thread of the process that took it, and ``GET /imports/{id}``
answers its progress and result from any process (docs/imports.md).

The body is the file itself (``Content-Type`` text/csv, the XLSX type, or
application/octet-stream), up to ``COMPLAINTS_IMPORT_MAX_BYTES``; it is spooled to a temporary
file as it arrives, so memory stays flat. Only built-in mappings are named here: a mapping file
is a path on the server, which a client must not choose; use ``complaints import`` for those.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import AppDep, ContextDep, Principal, permit
from api.problems import problem_responses
from commands.errors import FieldError, ImportMappingError
from commands.import_mapping import BUILT_IN
from infra.import_jobs import ImportJob, ImportJobs, check_sheet, spooled_upload
from infra.spreadsheets import SheetError

router = APIRouter(prefix="/imports", tags=["imports"])
ERRORS = problem_responses(
    {
        403: "Not an admin",
        404: "No import with that id",
        413: "The file is larger than COMPLAINTS_IMPORT_MAX_BYTES",
        422: "Unknown mapping or encoding; a file that cannot be read, or lacks the mapping's "
        "columns (checked on upload: nothing is started)",
    }
)
RunDep = Annotated[Principal, permit("imports.run")]
ReadDep = Annotated[Principal, permit("imports.read")]
BUILT_IN_NAMES = sorted(p.stem for p in BUILT_IN.glob("*.yaml"))


class ImportStarted(BaseModel):
    id: UUID
    state: Literal["running"]
    location: str


def jobs(request: Request) -> ImportJobs:
    return request.app.state.import_jobs  # type: ignore[no-any-return]


@router.post("", status_code=202, response_model=ImportStarted, responses=ERRORS)
async def start_import(
    request: Request,
    app: AppDep,
    ctx: ContextDep,
    _: RunDep,
    response: Response,
    mapping: Annotated[
        str,
        Query(
            description=f"A built-in mapping: {', '.join(BUILT_IN_NAMES)}",
            max_length=40,
            pattern=r"^[a-z0-9_-]+$",
        ),
    ],
    dry_run: Annotated[bool, Query(description="Validate every row, write nothing")] = False,
    encoding: Annotated[
        Literal["utf-8", "utf-8-sig", "gbk", "gb18030"] | None,
        Query(description="A CSV's encoding (default: detected)"),
    ] = None,
) -> ImportStarted:
    """Start importing the file in the body: 202 with the job's id; follow it at
    ``GET /imports/{id}``."""
    if mapping not in BUILT_IN_NAMES:
        raise ImportMappingError(f"must be a built-in mapping ({', '.join(BUILT_IN_NAMES)})")
    upload = spooled_upload()
    try:
        with upload.open("wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        try:
            await run_in_threadpool(check_sheet, upload, mapping, encoding)
        except SheetError as error:
            raise FieldError("file", str(error)) from None
        job_id = await run_in_threadpool(
            jobs(request).start, app, upload, mapping, ctx, dry_run=dry_run, encoding=encoding
        )
    except BaseException:
        upload.unlink(missing_ok=True)
        raise
    location = f"/imports/{job_id}"
    response.headers["Location"] = location
    return ImportStarted(id=job_id, state="running", location=location)


@router.get("/{import_id}", response_model=ImportJob, responses=ERRORS)
def get_import(import_id: UUID, request: Request, _: ReadDep) -> ImportJob:
    """The job's progress (rows read, imported, skipped, changed, rejected so far) and, once
    done, its result: rejections by reason and the first 1000 rejected rows (row, column, value,
    reason)."""
    return jobs(request).get(import_id)
