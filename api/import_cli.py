"""``complaints import FILE --mapping NAME|FILE.yaml [--dry-run] [--encoding]``: a CSV or XLSX
sheet imported as complaints (docs/imports.md), with a progress bar and a summary."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from aggregates.errors import FieldError
from aggregates.vocabulary import Role
from commands.context import CommandContext
from commands.imports import ImportResult
from infra.bootstrap import bootstrap
from infra.import_jobs import import_file
from infra.settings import Settings
from infra.spreadsheets import SheetError

console = Console(stderr=True)
SHOWN_ERRORS = 50


def import_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The CSV or XLSX file")
    ],
    mapping: Annotated[
        str, typer.Option("--mapping", help="A built-in mapping (cfpb) or a YAML mapping file")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate every row and write nothing")
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="The CSV's encoding (default: detected; utf-8, gbk...)"),
    ] = None,
) -> None:
    """Import complaints from a sheet: idempotent by the source's ids, business times kept,
    no routing or automation for imported history."""
    ctx = CommandContext(principal="cli", role=Role.ADMIN.value, correlation_id=uuid.uuid4().hex)
    started = time.monotonic()
    with bootstrap(Settings()) as services, Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("checking" if dry_run else "importing", total=None, rate=0.0)

        def progress(result: ImportResult) -> None:
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.update(task, completed=result.rows, rate=result.rows / elapsed)

        try:
            result = import_file(
                services.app, file, mapping, ctx, dry_run=dry_run, encoding=encoding,
                progress=progress,
            )
        except (FieldError, SheetError, LookupError) as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    summarise(result, time.monotonic() - started)
    if result.rejected:
        raise typer.Exit(1)


def summarise(result: ImportResult, seconds: float) -> None:
    verb = "would import" if result.dry_run else "imported"
    table = Table(title=f"{result.rows:,} rows in {seconds:.1f} s "
                  f"({result.rows / max(seconds, 1e-9):,.0f} rows/s)")
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    for outcome, count in (
        (verb, result.imported),
        ("skipped (already present)", result.skipped),
        ("changed (reported, not recorded)", result.changed),
        ("rejected", result.rejected),
    ):
        table.add_row(outcome, f"{count:,}")
    for reason, count in sorted(result.rejected_by_reason.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  rejected: {reason}", f"{count:,}")
    console.print(table)
    for error in result.errors[:SHOWN_ERRORS]:
        console.print(
            f"row {error.row}, column {error.column!r}, value {error.value!r}: {error.reason}",
            markup=False, highlight=False,
        )
    if result.rejected > SHOWN_ERRORS:
        console.print(f"... and {result.rejected - SHOWN_ERRORS:,} more rejected rows")
    for changed in result.changed_rows[:SHOWN_ERRORS]:
        console.print(
            f"row {changed.row}: {changed.external_id} changed since it was imported "
            f"(complaint {changed.complaint_id}); not recorded again",
            markup=False, highlight=False,
        )
