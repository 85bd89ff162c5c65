"""The ``complaints`` command line."""

from __future__ import annotations

import os
import sys
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aggregates.errors import FieldError
from aggregates.vocabulary import Grant, Role
from api.audit_cli import audit_cli, dossier
from api.automation_cli import automation_cli
from api.directory_cli import directory_cli, routing_cli
from api.export_cli import export_cli
from api.first_start import admin_token_path, hand_over_admin_token
from api.import_cli import import_command
from api.personal_data_cli import customers_cli, keys_cli
from api.projections_cli import projections_cli
from api.report_cli import report
from api.serving import serve_processes, server_options
from api.sla_cli import sla_cli
from api.stopping import stop_on_signals
from api.stream_commands import relay_cli, webhooks_cli
from api.terminal_text import cell, visible
from commands.context import CommandContext
from commands.errors import ComplaintNotFoundError, TokenNotFoundError
from commands.token_models import parse_lifetime
from infra.bootstrap import Services, bootstrap
from infra.garbage_collection import collect_less_often
from infra.logs import configure_logging
from infra.metrics import MultiprocessFiles
from infra.settings import Settings
from queries.history import get_history
from queries.story import render_text, tell

cli = typer.Typer(
    help="complaint-ledger: event-sourced customer-complaint handling.", no_args_is_help=True
)
tokens_cli = typer.Typer(help="Create, list and revoke API access tokens.", no_args_is_help=True)
cli.add_typer(tokens_cli, name="tokens")
cli.add_typer(projections_cli, name="projections")
cli.add_typer(webhooks_cli, name="webhooks")
cli.add_typer(relay_cli, name="relay")
cli.add_typer(sla_cli, name="sla")
cli.add_typer(automation_cli, name="automation")
cli.add_typer(customers_cli, name="customers")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(directory_cli, name="directory")
cli.add_typer(routing_cli, name="routing")
cli.add_typer(export_cli, name="export")
cli.command("dossier")(dossier)
cli.command("import")(import_command)
cli.command("report")(report)
console = Console()


@cli.callback()
def configure() -> None:
    """complaint-ledger: event-sourced customer-complaint handling."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)


def cli_context() -> CommandContext:
    return CommandContext(principal="cli", role=Role.ADMIN.value, correlation_id=uuid.uuid4().hex)


def open_services() -> Services:
    return bootstrap(Settings())


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [COMPLAINTS_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [COMPLAINTS_PORT]")] = None,
    workers: Annotated[
        int | None, typer.Option(help="HTTP worker processes [COMPLAINTS_WORKERS]")
    ] = None,
    projections: Annotated[
        bool,
        typer.Option(
            "--projections/--no-projections",
            help="Run the read-model projections in this process (use --no-projections when "
            "separate `complaints projections run` workers do)",
        ),
    ] = True,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    collect_less_often()
    workers = workers or settings.workers
    # Several processes: each writes its counts to a file there, any one's /metrics sums them.
    files = (
        MultiprocessFiles(settings.metrics_multiproc_dir)
        if workers > 1 and settings.metrics_enabled
        else nullcontext()
    )
    with files, bootstrap(settings) as services:  # every table created here, once
        if not services.app.tokens.has_any():
            issued = services.app.tokens.issue("admin", Role.ADMIN.value, cli_context())
            hand_over_admin_token(issued.secret, admin_token_path(settings), sys.stdout)
        # Daemon threads of this process, stopped when the services close.
        services.start_in_background(
            projections=projections,
            webhooks=settings.webhooks_in_serve,
            sla_watcher=settings.sla_watcher_in_serve,
            audit_checkpoints=True,
        )
        if workers > 1:
            # Each worker process bootstraps its own services from the same environment; the
            # tables exist already, and creating them from several processes at once can fail.
            os.environ["COMPLAINTS_CREATE_TABLES"] = "false"
            serve_processes(
                host or settings.host, port or settings.port, workers,
                ended=files.process_ended if isinstance(files, MultiprocessFiles) else None,
            )
            return
        # uvicorn answers SIGTERM by finishing the requests in flight, then raises it again with
        # the handler it found: this one, so that the process goes on to close its services
        # (background projections commit and release their locks, the writer flushes).
        with stop_on_signals():
            uvicorn.run(
                create_app(services),
                host=host or settings.host,
                port=port or settings.port,
                **server_options(settings),
            )


@cli.command()
def migrate() -> None:
    """Create or upgrade every table, then exit: run once before starting several processes
    on a new or upgraded PostgreSQL database, each of them with COMPLAINTS_CREATE_TABLES=false
    (concurrent DDL can fail)."""
    with bootstrap(Settings(create_tables=True)):
        pass
    typer.echo("tables ready", err=True)


@tokens_cli.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="Principal name recorded on every event it causes")],
    role: Annotated[Role, typer.Option(help="Role of the principal")] = Role.AGENT,
    team: Annotated[
        list[str] | None,
        typer.Option(help="A team the principal acts for (repeat for several)"),
    ] = None,
    grant: Annotated[
        list[Grant] | None, typer.Option(help="A right beyond the role (repeatable)")
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(help="Refuse the token after this long: 30d, 12h, 90m (default: never)"),
    ] = None,
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Same as --expires-in Nd (kept for old scripts)"),
    ] = None,
) -> None:
    """Create a token and print it (only its hash is stored)."""
    try:
        lifetime = (
            parse_lifetime(expires_in, "--expires-in")
            if expires_in
            else timedelta(days=expires_in_days) if expires_in_days else None
        )
        with open_services() as services:
            issued = services.app.tokens.issue(
                name, role.value, cli_context(),
                expires_at=datetime.now(UTC) + lifetime if lifetime else None,
                teams=team or (), grants=[g.value for g in grant or ()],
            )
    except FieldError as e:
        typer.echo(f"{e.field}: {e.reason}", err=True)
        raise typer.Exit(2) from None
    typer.echo(issued.secret)
    teams = f", teams {', '.join(issued.teams)}" if issued.teams else ""
    typer.echo(f"# token {issued.token_id} for {issued.name} ({issued.role}{teams})", err=True)


@tokens_cli.command("list")
def tokens_list() -> None:
    """List tokens (never their secrets)."""
    table = Table(
        "id", "name", "role", "teams", "grants", "issued at", "issued by", "revoked at",
        "expires at",
    )
    with open_services() as services:
        tokens = services.app.tokens.all()
    for t in tokens:
        table.add_row(
            str(t.token_id),
            t.name,
            t.role,
            cell(", ".join(t.teams)),
            ", ".join(sorted(t.grants)),
            t.issued_at.isoformat(),
            t.issued_by,
            t.revoked_at.isoformat() if t.revoked_at else "",
            t.expires_at.isoformat() if t.expires_at else "",
        )
    console.print(table)


@tokens_cli.command("revoke")
def tokens_revoke(
    token: Annotated[
        str, typer.Argument(help="Token id, or a principal name (revokes all theirs)")
    ],
) -> None:
    """Revoke a token: refused by running servers within COMPLAINTS_TOKEN_CACHE_SECONDS (5 s);
    its open event streams end before their next event."""
    try:
        with open_services() as services:
            revoked = services.app.tokens.revoke(token, cli_context())
    except TokenNotFoundError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    for token_id in revoked:
        typer.echo(f"revoked {token_id}")


@cli.command()
def history(
    complaint: Annotated[str, typer.Argument(help="Complaint id or reference (C-XXXX-XXXX)")],
    story: Annotated[
        bool, typer.Option("--story", help="Tell it in words: who, which rule, which cause")
    ] = False,
) -> None:
    """Print a complaint's timeline from the event store."""
    try:
        with open_services() as services:
            try:
                complaint_id = uuid.UUID(complaint)
            except ValueError:
                complaint_id = services.app.resolve_reference(complaint)
            timeline = get_history(services.app, complaint_id)
    except ComplaintNotFoundError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    if story:
        # Stored text is printed literally, control characters escaped (api/terminal_text.py).
        for line in render_text(timeline, tell(timeline)).splitlines():
            typer.echo(visible(line))
        return
    console.print(f"[bold]{timeline.reference}[/bold]  {timeline.complaint_id}")
    table = Table("v", "when (UTC)", "type", "actor", "details", "correlation")
    for e in timeline.events:
        details = ", ".join(
            f"{k}={v}"
            for k, v in e.data.items()
            if k not in {"customer", "product", "attachments", "description", "reference"}
            and v not in (None, [], {})
        )
        # Stored text is shown literally (see api/terminal_text.py), never as markup.
        table.add_row(
            str(e.version),
            e.occurred_at.isoformat(timespec="seconds"),
            e.type,
            cell(e.actor),
            cell(details[:120]),
            cell(e.correlation_id[:12]),
        )
    console.print(table)


def main() -> None:
    cli()
