"""``complaints projections ...``: run, inspect and rebuild the read models."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from infra.settings import Settings
from infra.wiring import build_app
from projections.registry import UnknownProjectionError, build, names
from projections.store import ReadModelStore
from projections.worker import rebuild, run_until_stopped
from queries.projection_status import projection_status

projections_cli = typer.Typer(
    help="Run, inspect and rebuild the read-model projections.", no_args_is_help=True
)
console = Console()


def _check(selected: list[str]) -> None:
    try:
        build(Settings(), selected)
    except UnknownProjectionError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None


@projections_cli.command("run")
def run(
    name: Annotated[
        list[str] | None, typer.Argument(help="Projections to run (default: all)")
    ] = None,
) -> None:
    """Run projections until interrupted (on PostgreSQL, one worker per projection at a time:
    others wait and take over when it stops)."""
    selected = name or []
    _check(selected)
    settings = Settings()
    console.print(f"running projections: {', '.join(selected or names())} (Ctrl-C to stop)")
    run_until_stopped(build_app(settings), settings, selected)


@projections_cli.command("status")
def status() -> None:
    """Each projection's position, the store's head, and the lag in events and seconds."""
    with build_app(Settings()) as app:
        found = projection_status(app, ReadModelStore(app), names())
    table = Table("projection", "position", "lag (events)", "lag (s)", title=f"head {found.head}")
    for p in found.projections:
        table.add_row(p.name, str(p.position), str(p.lag_events), f"{p.lag_seconds:.1f}")
    console.print(table)


@projections_cli.command("rebuild")
def rebuild_command(
    name: Annotated[list[str] | None, typer.Argument(help="Projections to rebuild")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Rebuild every projection")] = False,
) -> None:
    """Drop and rebuild from event zero, up to the live head (safe while commands arrive)."""
    selected = names() if all_ else (name or [])
    if not selected:
        typer.echo("name a projection, or pass --all", err=True)
        raise typer.Exit(2)
    _check(selected)
    settings = Settings()
    app = build_app(settings)
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"rebuilding {', '.join(selected)}", total=None)

        def progress(position: int, head: int) -> None:
            bar.update(task, completed=position, total=head)

        rebuild(app, settings, selected, progress)
    console.print("done: caught up with the head")
