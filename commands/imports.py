"""Importing complaints from another system's records (issue 13; docs/imports.md).

Each row is mapped (``commands/import_mapping.py``), validated by the intake's own rules
(``ImportComplaint``) and becomes a complaint recorded as it happened: ``Filed`` with the sheet's
``received_at``, ``Imported`` (source, external id, a digest of the mapped row, the kept source
fields) and, for a closed row, ``Closed`` at the sheet's date; recording time is now.

Idempotent by external id: the complaint's id is ``uuid5(source, external_id)`` (the library's
way to a uniqueness index), so a re-run cannot file it twice; a row already present is skipped,
or reported as changed when its digest differs (never recorded again).

Fast by batches: rows are written ``batch_size`` complaints per transaction with one
``app.save``; a batch that collides (a complaint already present, a reference drawn twice) is
written again row by row, each checked first. Imported history triggers no routing, automation,
repeat-complaint links, SLA clocks, access codes or surveys: it is a record of what happened
elsewhere, and reacting to it now would assign, notify and breach on years-old complaints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID, uuid5

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import get_topic
from pydantic import ValidationError

from aggregates.complaint import CLOCK_SKEW, Complaint
from aggregates.reference import ComplaintReference, new_reference, new_references
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.import_mapping import BoundMapping, CellError, ImportMapping
from commands.import_models import TARGET_OF_FIELD, ImportComplaint, import_record
from commands.permissions import authorize

IMPORT_NAMESPACE = UUID("6f0e7a52-94c1-4c55-9b1e-2f1d3c0b7a13")
BATCH_SIZE = 500
MAX_ERRORS = 1000
"""Row errors kept in a result (the counts by reason cover every rejected row)."""
MAX_CHANGED = 1000
REFERENCE_ATTEMPTS = 5
_IMPORTED_TOPIC = get_topic(Complaint.Imported)


def imported_id(source: str, external_id: str) -> UUID:
    """The id of the complaint imported from ``source``'s record ``external_id``."""
    return uuid5(IMPORT_NAMESPACE, f"{source}\x1f{external_id}")


@dataclass(frozen=True)
class RowError:
    row: int
    """The row's number in the sheet: the header is row 1 (a CSV record spanning several lines
    is one row, as a spreadsheet shows it)."""
    column: str
    value: str
    reason: str


@dataclass(frozen=True)
class ChangedRow:
    row: int
    external_id: str
    complaint_id: UUID


@dataclass
class ImportResult:
    dry_run: bool
    rows: int = 0
    imported: int = 0
    """Written (on a dry run: would be)."""
    skipped: int = 0
    """Already present, unchanged."""
    changed: int = 0
    """Already present with other values: reported, not recorded again."""
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    """The first ``MAX_ERRORS`` rejected rows' errors, in row order."""
    changed_rows: list[ChangedRow] = field(default_factory=list)
    """The first ``MAX_CHANGED`` changed rows."""

    def reject(self, error: RowError) -> None:
        self.rejected += 1
        self.rejected_by_reason[error.reason] = self.rejected_by_reason.get(error.reason, 0) + 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)


@dataclass(frozen=True)
class _Planned:
    row: int
    record: ImportComplaint
    complaint_id: UUID
    digest: str


Progress = Callable[[ImportResult], None]


class Importer:
    """Imports the rows of one sheet through ``app`` with ``mapping``, as ``ctx``'s principal."""

    def __init__(
        self,
        app: ComplaintsApp,
        mapping: ImportMapping,
        ctx: CommandContext,
        *,
        dry_run: bool = False,
        batch_size: int = BATCH_SIZE,
        progress: Progress | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        authorize("imports.run", ctx.actor, _NOBODY)
        self.app, self.mapping, self.ctx = app, mapping, ctx
        self.dry_run, self.batch_size = dry_run, batch_size
        self.progress = progress or (lambda _: None)
        self.now = (clock or (lambda: datetime.now(UTC)))()
        self.result = ImportResult(dry_run=dry_run)

    def run(self, header: Sequence[str], rows: Iterable[tuple[int, Mapping[str, str]]]) -> (
        ImportResult
    ):
        """Imports ``rows`` (row number, cells by column) of a sheet with ``header``; raises
        ``ImportMappingError`` before any row when the sheet lacks a mapped column."""
        bound = self.mapping.bind(header)
        batch: list[_Planned] = []
        for number, row in rows:
            self.result.rows += 1
            planned = self._plan(bound, number, row)
            if planned is not None:
                batch.append(planned)
            if len(batch) >= self.batch_size:
                self._write(batch)
                batch = []
                self.progress(self.result)
        if batch:
            self._write(batch)
        self.progress(self.result)
        return self.result

    # ---- one row -----------------------------------------------------------------------------

    def _plan(self, bound: BoundMapping, number: int, row: Mapping[str, str]) -> _Planned | None:
        try:
            mapped = bound.apply(row)
        except CellError as error:
            self.result.reject(RowError(number, error.column, error.value, error.reason))
            return None
        try:
            record = ImportComplaint.model_validate(import_record(mapped))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            target = TARGET_OF_FIELD.get(where, where.split(".")[0])
            self.result.reject(
                RowError(number, bound.column_of(target), _cell(mapped.get(target)),
                         _reason(first["msg"]))
            )
            return None
        problem = self._refusal(record)
        if problem is not None:
            target, reason = problem
            self.result.reject(
                RowError(number, bound.column_of(target), _cell(mapped.get(target)), reason)
            )
            return None
        return _Planned(
            number, record, imported_id(self.mapping.source, record.external_id), _digest(mapped)
        )

    def _refusal(self, record: ImportComplaint) -> tuple[str, str] | None:
        """What the domain would refuse, found before writing (a batch must not fail on it)."""
        if record.received_at is not None and record.received_at > self.now + CLOCK_SKEW:
            return "received_at", "is in the future"
        if record.received_at is None:
            return "received_at", "is required"
        if record.resolution is not None:
            if record.closed_at is None:
                return "closed_at", "is required for a closed complaint"
            if record.closed_at < record.received_at:
                return "closed_at", "is before the complaint was received"
        return None

    def _complaint(
        self, planned: _Planned, reference: str
    ) -> tuple[Complaint, ComplaintReference]:
        record, by = planned.record, self.ctx.provenance
        assert record.received_at is not None  # _refusal
        complaint = Complaint.file(
            id=planned.complaint_id,
            reference=reference,
            received_at=record.received_at,
            received_by=record.received_by,
            by=by,
            contact_required=False,
            **record.filing(),
        )
        complaint.record_import(
            source=self.mapping.source,
            external_id=record.external_id,
            digest=planned.digest,
            kept=record.kept(),
            by=by,
        )
        if record.resolution is not None:
            complaint.close(
                record.resolution,
                record.summary or record.resolution,
                closed_at=record.closed_at,
                by=by,
            )
        return complaint, ComplaintReference.register(reference, complaint.id)

    # ---- writing -----------------------------------------------------------------------------

    def _write(self, batch: list[_Planned]) -> None:
        # Within one batch, a row whose id came earlier is judged against that one.
        unique: dict[UUID, _Planned] = {}
        for planned in batch:
            first = unique.get(planned.complaint_id)
            if first is None:
                unique[planned.complaint_id] = planned
            else:
                self._present(planned, first.digest)
        # Which rows are there already (a file run again): one query for the batch.
        stored = self._stored_digests(list(unique))
        new = []
        for planned in unique.values():
            digest = stored.get(planned.complaint_id)
            if digest is None:
                new.append(planned)
            else:
                self._present(planned, digest)
        if self.dry_run:
            self.result.imported += len(new)
            return
        if not new:
            return
        self._make_keys(new)
        aggregates: list[Any] = []
        for planned, reference in zip(new, new_references(len(new)), strict=True):
            aggregates.extend(self._complaint(planned, reference))
        try:
            self.app.save(*aggregates)
        except IntegrityError:
            for planned in new:  # some were there already: one by one, each checked
                self._one(planned)
        else:
            self.result.imported += len(new)

    def _one(self, planned: _Planned) -> None:
        stored = self._stored_digest(planned.complaint_id)
        if stored is not None:
            self._present(planned, stored)
            return
        if self.dry_run:
            self.result.imported += 1
            return
        self._make_keys([planned])
        for _ in range(REFERENCE_ATTEMPTS):
            try:
                self.app.save(*self._complaint(planned, new_reference()))
            except IntegrityError:
                if self._stored_digest(planned.complaint_id) is not None:  # another run won
                    self._present(planned, planned.digest)
                    return
                continue  # the reference was drawn before: draw another
            self.result.imported += 1
            return
        raise IntegrityError(f"could not record row {planned.row}")

    def _stored_digest(self, complaint_id: UUID) -> str | None:
        """The digest the stored complaint was imported with ("" if it has none); ``None`` when
        there is no such complaint."""
        return self._stored_digests([complaint_id]).get(complaint_id)

    def _stored_digests(self, complaint_ids: list[UUID]) -> dict[UUID, str]:
        """``_stored_digest`` of each complaint present, in one query reading their first two
        events only (``Filed``, ``Imported``)."""
        digests: dict[UUID, str] = {}
        recorder = self.app.recorder
        if isinstance(recorder, _ReadsFirstEvents):
            rows = recorder.first_events(complaint_ids, 2)
        else:  # the library's recorders: one aggregate a query
            rows = [e for i in complaint_ids for e in recorder.select_events(i, lte=2)]
        for row in rows:
            key = row.originator_id if isinstance(row.originator_id, UUID) else (
                UUID(row.originator_id)
            )
            if row.topic == _IMPORTED_TOPIC:
                event = self.app.mapper.to_domain_event(row)
                digests[key] = str(event.digest)  # type: ignore[attr-defined]
            else:
                digests.setdefault(key, "")
        return digests

    def _present(self, planned: _Planned, digest: str) -> None:
        if digest == planned.digest:
            self.result.skipped += 1
            return
        self.result.changed += 1
        if len(self.result.changed_rows) < MAX_CHANGED:
            self.result.changed_rows.append(
                ChangedRow(planned.row, planned.record.external_id, planned.complaint_id)
            )

    def _make_keys(self, rows: list[_Planned]) -> None:
        """The customers' data keys, made in one go before the batch (one per new customer
        otherwise costs two round trips per row)."""
        keys = self.app.mapper.keys
        if keys is not None and self.app.mapper.encrypt:
            keys.make_keys({p.record.customer.id for p in rows})


@runtime_checkable
class _ReadsFirstEvents(Protocol):
    """Our databases (``projections/database.py``, a layer above): first events of many
    aggregates in one query."""

    def first_events(
        self, originator_ids: Sequence[UUID], up_to: int
    ) -> Sequence[StoredEvent]: ...


@dataclass(frozen=True)
class _Unassigned:
    assignee: str | None = None
    team: str | None = None


_NOBODY = _Unassigned()


def _digest(mapped: Mapping[str, Any]) -> str:
    """Of the mapped row (targets in name order, values as their ``repr``): independent of the
    sheet's column order and of how it spelt dates."""
    text = repr(sorted(mapped.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _reason(message: str) -> str:
    """Pydantic's message, worded as the intake's other reasons are."""
    message = message.removeprefix("Value error, ")
    return "is required" if message == "Field required" else message

