"""``complaints audit ...``: verify the hash chain, record and list signed checkpoints."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aggregates.vocabulary import Role
from api.dossier_html import render_dossier
from api.routers.audit import CheckpointPublic
from api.terminal_text import cell
from commands.audit_checkpoints import Checkpoint
from commands.context import CommandContext
from commands.errors import ComplaintNotFoundError
from infra.bootstrap import bootstrap
from infra.settings import Settings
from projections.database import database_of
from queries.audit_verify import verify_store
from queries.dossier import get_dossier

audit_cli = typer.Typer(
    help="Tamper evidence: verify the hash chain; signed checkpoints.", no_args_is_help=True
)
console = Console(stderr=True)


@audit_cli.command("verify")
def verify(
    since_checkpoint: Annotated[
        bool,
        typer.Option(help="Verify the latest checkpoint and only the events after it"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            help="A JSON file of checkpoints kept outside the store (as GET /audit/checkpoints"
            " answers, or one of them): shows a truncation that removed later checkpoints"
        ),
    ] = None,
) -> None:
    """Walk the store: every event's hash and link, every checkpoint's root and signature.
    Exits 1 when anything broke."""
    anchors = [c for path in anchor or [] for c in read_anchors(path)]
    with bootstrap(Settings()) as services:
        database = database_of(services.app)
        last = database.max_notification_id() or 0
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("positions", total=last)
            report = verify_store(
                database,
                services.checkpoints,
                services.audit_key,
                since_checkpoint=since_checkpoint,
                anchors=anchors,
                progress=lambda _, position: bar.update(task, completed=min(position, last)),
            )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        rate = report.events / report.seconds if report.seconds else 0
        console.print(
            f"{report.events} events of {report.aggregates} aggregates, positions"
            f" {report.first_position}..{report.last_position}, {report.checkpoints_checked}"
            f" checkpoints, in {report.seconds:.1f} s ({rate:,.0f} events/s)"
        )
        if report.position_gaps_total and not database.positions_are_dense:
            console.print(
                f"{report.position_gaps_total} ranges of unused positions (rolled-back"
                " inserts leave them; not a break)"
            )
        if report.ok:
            console.print("[green]the chain verifies[/green]")
        else:
            # One block per break: the hashes are 64 hex digits, too wide for table cells.
            for b in report.breaks:
                where = ", ".join(
                    f"{name} {value}"
                    for name, value in (
                        ("aggregate", b.aggregate_id),
                        ("version", b.version),
                        ("position", b.position),
                    )
                    if value is not None
                )
                console.print(f"[red]{b.kind.value}[/red] {where}", highlight=False)
                console.print(f"  {cell(b.detail)}", highlight=False, markup=False)
                if b.expected is not None:
                    console.print(f"  expected {cell(b.expected)}", highlight=False, markup=False)
                if b.found is not None:
                    console.print(f"  found    {cell(b.found)}", highlight=False, markup=False)
            console.print(f"[red]{report.breaks_total} breaks[/red]")
    if not report.ok:
        raise typer.Exit(1)


def read_anchors(path: Path) -> list[Checkpoint]:
    try:
        loaded = json.loads(path.read_text())
        items = loaded if isinstance(loaded, list) else [loaded]
        return [Checkpoint(**CheckpointPublic.model_validate(i).model_dump()) for i in items]
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"{path}: {error}", param_hint="--anchor") from None


@audit_cli.command("checkpoint")
def checkpoint() -> None:
    """Record a signed checkpoint of the store now."""
    ctx = CommandContext(principal="cli", role=Role.ADMIN.value, correlation_id=uuid.uuid4().hex)
    with bootstrap(Settings()) as services:
        recorded = services.checkpoints.record(ctx)
    typer.echo(
        f"checkpoint {recorded.number}: position {recorded.position}, {recorded.aggregate_count}"
        f" aggregates, {recorded.event_count} events, root {recorded.root}"
    )


@audit_cli.command("checkpoints")
def checkpoints() -> None:
    """List the signed checkpoints."""
    with bootstrap(Settings()) as services:
        recorded = services.checkpoints.all()
    table = Table("n", "position", "aggregates", "events", "root", "key", "recorded at", "by")
    for c in recorded:
        table.add_row(
            str(c.number),
            str(c.position),
            str(c.aggregate_count),
            str(c.event_count),
            c.root[:16],
            c.key_id,
            c.recorded_at.isoformat(timespec="seconds"),
            cell(c.recorded_by),
        )
    Console().print(table)


def dossier(
    complaint: Annotated[str, typer.Argument(help="Complaint id or reference (C-XXXX-XXXX)")],
    out: Annotated[Path, typer.Option(help="File to write")],
    format: Annotated[str, typer.Option(help="html or json")] = "html",
) -> None:
    """Write a complaint's case file (intake, every event, SLA clocks, chain verification)."""
    if format not in {"html", "json"}:
        raise typer.BadParameter("html or json", param_hint="--format")
    try:
        with bootstrap(Settings()) as services:
            try:
                complaint_id = uuid.UUID(complaint)
            except ValueError:
                complaint_id = services.app.resolve_reference(complaint)
            made = get_dossier(services.app, complaint_id, "cli")
    except ComplaintNotFoundError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    out.write_text(render_dossier(made) if format == "html" else made.model_dump_json(indent=2))
    typer.echo(f"wrote {out} ({'verified' if made.chain_verified else 'CHAIN BROKEN'})")
