"""Running an import: from a file (the CLI), or as a job of the API (``POST /imports``).

A job's state is a row of ``import_jobs`` beside the event store (created in
``infra/bootstrap.create_tables``), so ``GET /imports/{id}`` answers from any worker process;
the work runs in a daemon thread of the process that took the upload, which updates the row
after every batch. A process shutting down stops its jobs after their current batch and marks
them failed; a job whose process died mid-import is answered as failed once it has made no
progress for ``STALLED_AFTER``. Either way the rows
written so far stay written, and running the same file again imports the rest (imports are
idempotent).
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.errors import FieldError, ImportNotFoundError
from commands.import_mapping import load_mapping
from commands.imports import Importer, ImportResult, Progress
from infra.spreadsheets import SheetError, open_sheet
from projections.schema import Table, columns
from projections.store import ReadModelStore

log = logging.getLogger(__name__)

IMPORT_JOBS = Table(
    "import_jobs",
    columns(
        "id uuid, state text, principal text, mapping text, dry_run bool, created_at timestamp,",
        "updated_at timestamp, rows int, imported int, skipped int, changed int, rejected int,",
        "result text?, error text?",
    ),
    key=("id",),
)
JobState = Literal["running", "done", "failed"]
STALLED_AFTER = timedelta(minutes=10)
"""A running job with no progress for this long is answered as failed (its process died)."""


def import_file(
    app: ComplaintsApp,
    path: Path,
    mapping: str,
    ctx: CommandContext,
    *,
    dry_run: bool = False,
    encoding: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Imports the CSV or XLSX file at ``path`` with the mapping ``mapping`` (built-in name or
    YAML file)."""
    importer = Importer(app, load_mapping(mapping), ctx, dry_run=dry_run, progress=progress)
    with open_sheet(path, encoding) as (header, rows):
        return importer.run(header, rows)


def check_sheet(path: Path, mapping: str, encoding: str | None = None) -> None:
    """Reads the file's header and binds the mapping to it, so that an unreadable file or one
    lacking the mapping's columns is refused when uploaded (422), not as a failed job later.
    Raises ``SheetError`` (field ``file``) or ``ImportMappingError``."""
    with open_sheet(path, encoding) as (header, _):
        load_mapping(mapping).bind(header)


class RowErrorOut(BaseModel):
    row: int
    column: str
    value: str
    reason: str


class ChangedRowOut(BaseModel):
    row: int
    external_id: str
    complaint_id: UUID


class ImportJob(BaseModel):
    id: UUID
    state: JobState = Field(description="running, done, or failed (see error)")
    mapping: str
    dry_run: bool
    created_at: datetime
    updated_at: datetime
    rows: int = Field(description="Rows read so far")
    imported: int = Field(description="Complaints written (on a dry run: that would be)")
    skipped: int = Field(description="Rows already imported, unchanged")
    changed: int = Field(description="Rows already imported with other values: not recorded")
    rejected: int
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    errors: list[RowErrorOut] = Field(
        default_factory=list, description="The first 1000 rejected rows: row, column, value, why"
    )
    changed_rows: list[ChangedRowOut] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why the job failed")


class ImportStoppedError(Exception):
    """Raised inside a job when its process shuts down: it stops after the batch it was on."""


class ImportJobs:
    """The jobs of every process, in ``import_jobs``; this process's running ones stop, after
    the batch they are on, when ``stop()`` is called (``Services.close``)."""

    def __init__(self, store: ReadModelStore) -> None:
        self._store = store
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def stop(self, timeout: float = 30.0) -> None:
        """Stops this process's jobs after their current batch (each is marked failed, with
        the reason) and waits for them."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def create_table(self) -> None:
        self._store.create_tables([IMPORT_JOBS])

    def start(
        self,
        app: ComplaintsApp,
        upload: Path,
        mapping: str,
        ctx: CommandContext,
        *,
        dry_run: bool,
        encoding: str | None = None,
    ) -> UUID:
        """Records a running job and starts it in a daemon thread; ``upload`` (a file of ours)
        is deleted when it ends."""
        load_mapping(mapping)  # an unknown mapping is the request's error, not the job's
        job_id, now = uuid4(), datetime.now(UTC)
        self._put({
            "id": job_id, "state": "running", "principal": ctx.principal, "mapping": mapping,
            "dry_run": dry_run, "created_at": now, "updated_at": now, "rows": 0, "imported": 0,
            "skipped": 0, "changed": 0, "rejected": 0, "result": None, "error": None,
        })
        thread = threading.Thread(
            target=self._run, args=(job_id, app, upload, mapping, ctx, dry_run, encoding),
            name=f"import-{job_id}", daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return job_id

    def _run(
        self, job_id: UUID, app: ComplaintsApp, upload: Path, mapping: str,
        ctx: CommandContext, dry_run: bool, encoding: str | None,
    ) -> None:
        row = self._row(job_id)

        def progress(result: ImportResult) -> None:
            if self._stopping.is_set():
                raise ImportStoppedError(
                    f"stopped after {result.rows} rows: the process shut down; the rows written"
                    " stay written, run the file again to import the rest"
                )
            self._put({**row, **_counts(result), "updated_at": datetime.now(UTC)})

        try:
            result = import_file(
                app, upload, mapping, ctx, dry_run=dry_run, encoding=encoding, progress=progress
            )
        except Exception as error:  # the job's answer, whatever went wrong
            if isinstance(error, (SheetError, FieldError)):  # the file's fault: no traceback
                log.warning("import %s refused: %s", job_id, error)
            elif not isinstance(error, ImportStoppedError):
                log.exception("import %s failed", job_id)
            try:
                self._put({**self._row(job_id), "state": "failed", "error": str(error)[:2000],
                           "updated_at": datetime.now(UTC)})
            except Exception:  # the store itself is gone: the job stays "running"
                log.exception("import %s: could not record its failure", job_id)
        else:
            details = {
                "rejected_by_reason": result.rejected_by_reason,
                "errors": [asdict(e) for e in result.errors],
                "changed_rows": [
                    {**asdict(c), "complaint_id": str(c.complaint_id)} for c in result.changed_rows
                ],
            }
            self._put({**row, **_counts(result), "state": "done",
                       "result": json.dumps(details, ensure_ascii=False),
                       "updated_at": datetime.now(UTC)})
        finally:
            upload.unlink(missing_ok=True)

    def get(self, job_id: UUID, principal: str | None = None) -> ImportJob:
        """The job; ``principal`` given: only if they started it (others' jobs are not found)."""
        row = self._row(job_id)
        if principal is not None and row["principal"] != principal:
            raise ImportNotFoundError(f"no import {job_id}")
        details: dict[str, Any] = json.loads(row["result"]) if row["result"] else {}
        if row["state"] == "running" and datetime.now(UTC) - row["updated_at"] > STALLED_AFTER:
            # Its process died mid-import (a job records progress after every batch, a batch
            # takes about a second): answered as failed, not left "running" for good.
            row = {**row, "state": "failed", "error": (
                f"interrupted: no progress since {row['updated_at'].isoformat()} (its process "
                "stopped); the rows written stay written, run the file again to import the rest"
            )}
        fields = {k: v for k, v in row.items() if k not in {"result", "principal"}}
        return ImportJob(**fields, **details)

    def _row(self, job_id: UUID) -> dict[str, Any]:
        with self._store.read() as tx:
            found = tx.fetch(IMPORT_JOBS, "id", [job_id])
        if job_id not in found:
            raise ImportNotFoundError(f"no import {job_id}")
        return found[job_id]

    def _put(self, row: dict[str, Any]) -> None:
        with self._store.write() as tx:
            tx.upsert(IMPORT_JOBS, [row])


def _counts(result: ImportResult) -> dict[str, int]:
    return {
        "rows": result.rows, "imported": result.imported, "skipped": result.skipped,
        "changed": result.changed, "rejected": result.rejected,
    }


def spooled_upload() -> Path:
    """A new empty file for an upload (the job deletes it when done)."""
    handle = tempfile.NamedTemporaryFile(prefix="complaints-import-", delete=False)
    handle.close()
    return Path(handle.name)
