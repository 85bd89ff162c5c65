"""``complaints projections ...``: run, inspect and rebuild the read models; retry quarantined
events."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.metrics_port import MetricsPort, expose_metrics
from api.stopping import stop_on_signals
from infra.bootstrap import bootstrap
from infra.garbage_collection import collect_less_often
from infra.settings import Settings
from projections.registry import FORMER_NAMES, UnknownProjectionError, check, names
from projections.retry import retry_quarantined
from projections.worker import rebuild
from queries.projection_status import projection_status

projections_cli = typer.Typer(
    help="Run, inspect and rebuild the read-model projections.", no_args_is_help=True
)
console = Console()


def _checked(selected: list[str]) -> list[str]:
    """The projections' names now (a former name is accepted); exit status 2 for an unknown."""
    try:
        return check(selected)
    except UnknownProjectionError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None


Named = Annotated[list[str] | None, typer.Argument(help=f"Projection names ({FORMER_NAMES})")]
Every = Annotated[bool, typer.Option("--all", help="Every projection")]


def _chosen(name: list[str] | None, all_: bool) -> list[str]:
    """The projections named, or every one with ``--all``; exit status 2 for none."""
    selected = names() if all_ else (name or [])
    if not selected:
        typer.echo("name a projection, or pass --all", err=True)
        raise typer.Exit(2)
    return _checked(selected)


@projections_cli.command("run")
def run(
    name: Annotated[
        list[str] | None,
        typer.Argument(help=f"Projections to run (default: all; {FORMER_NAMES})"),
    ] = None,
    metrics_port: MetricsPort = None,
) -> None:
    """Run projections until interrupted (one worker per projection at a time: others wait and
    take over when it stops). SIGTERM or Ctrl-C: the batch in hand commits, the locks are
    released, and a standby takes over at once."""
    selected = _checked(name or [])
    console.print(f"running projections: {', '.join(selected or names())} (Ctrl-C to stop)")
    collect_less_often()
    with bootstrap(Settings()) as services:
        expose_metrics(services, metrics_port)
        # A KeyboardInterrupt can only come before the handlers are in place.
        with stop_on_signals() as stop, contextlib.suppress(KeyboardInterrupt):
            services.runner(selected).run_forever(stop)


@projections_cli.command("status")
def status() -> None:
    """Each projection's position, the store's head, the lag in events and seconds, and the
    events it quarantined (the first few of each)."""
    with bootstrap(Settings()) as services:
        found = projection_status(services.app, services.read_models, names())
    table = Table(
        "projection", "position", "lag (events)", "lag (s)", "quarantined",
        title=f"head {found.head}",
    )
    for p in found.projections:
        lag = "?" if p.lag_seconds is None else f"{p.lag_seconds:.1f}"
        table.add_row(p.name, str(p.position), str(p.lag_events), lag, str(p.quarantined))
    console.print(table)
    for p in found.projections:
        if not p.quarantined:
            continue
        console.print(
            f"[bold]{p.name}[/bold]: {p.quarantined} quarantined event(s); the first "
            f"{len(p.quarantine)} (apply again: complaints projections retry {p.name}):",
            highlight=False,
        )
        for q in p.quarantine:
            console.print(
                f"  position {q.position}  complaint {q.complaint_id} v{q.version}  "
                f"{q.error_class}: {q.error_message}  (attempts {q.attempts})",
                highlight=False, markup=False,
            )


@projections_cli.command("rebuild")
def rebuild_command(name: Named = None, all_: Every = False) -> None:
    """Drop and rebuild from event zero, up to the live head (safe while commands arrive)."""
    selected = _chosen(name, all_)
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with bootstrap(Settings()) as services, Progress(*columns, console=console) as bar:
        task = bar.add_task(f"rebuilding {', '.join(selected)}", total=None)

        def progress(position: int, head: int) -> None:
            bar.update(task, completed=position, total=head)

        rebuild(services.runner(selected), progress)
    console.print("done: caught up with the head")


@projections_cli.command("retry")
def retry_command(name: Named = None, all_: Every = False) -> None:
    """Apply quarantined events again, in position order (safe while workers run); those that
    still fail stay quarantined. Exit status 1 if any still fails."""
    selected = _chosen(name, all_)
    failing = 0
    with bootstrap(Settings()) as services:
        for projection in services.projections(selected):
            report = retry_quarantined(
                services.read_models, projection,
                page_size=services.settings.projection_page_size,
            )
            failing += len(report.still_failing)
            console.print(
                f"{projection.name}: {report.applied} applied, "
                f"{len(report.still_failing)} still failing, {report.parked} parked behind them",
                highlight=False,
            )
            for q in report.still_failing[:5]:
                console.print(
                    f"  position {q.position}  complaint {q.originator_id}  "
                    f"{q.error_class}: {q.error_message}  (attempts {q.attempts})",
                    highlight=False, markup=False,
                )
    if failing:
        raise typer.Exit(1)
