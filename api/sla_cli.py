"""``complaints sla ...``: the SLA policy and business calendars from the command line, and the
deadline watcher alone (``complaints sla run``).

The files are JSON in the shape of the HTTP bodies (``PUT /sla/policy``, ``PUT /sla/calendars/
{name}``), and ``show`` prints what the corresponding ``GET`` answers, so a policy can be shown,
edited and set again: ``set`` ignores the read-only members of a shown file (``changed_by``, ...)
and takes its ``version`` as ``If-Match`` (a file shown before someone else's change is refused).
Changes are recorded with the principal ``--by`` (default ``cli``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from aggregates.vocabulary import Role
from api.config_cli import echo_json, read_json_object, refusals
from api.metrics_port import MetricsPort, expose_metrics
from api.stopping import stop_on_signals
from api.terminal_text import cell
from commands.context import CommandContext
from commands.sla_config import (
    CalendarVersion,
    PolicyVersion,
    Saved,
    SlaConfigNotFoundError,
)
from commands.sla_models import SetCalendar, SetPolicy
from infra.bootstrap import bootstrap
from infra.settings import Settings

sla_cli = typer.Typer(
    help="SLA: the policy and business calendars; the deadline watcher.", no_args_is_help=True
)
policy_cli = typer.Typer(help="Show or set the SLA policy (versioned).", no_args_is_help=True)
calendars_cli = typer.Typer(help="List, show or set business calendars (versioned).",
                            no_args_is_help=True)
sla_cli.add_typer(policy_cli, name="policy")
sla_cli.add_typer(calendars_cli, name="calendars")
console = Console()


@sla_cli.command("run")
def run(metrics_port: MetricsPort = None) -> None:
    """Run the SLA deadline watcher until interrupted: it records warnings, breaches (at their
    due instants) and escalations. One works per store; others stand by and take over."""
    console.print("running the SLA deadline watcher (Ctrl-C to stop)")
    # SIGTERM too: the watcher's lock is released on the way out.
    with bootstrap(Settings()) as services, stop_on_signals() as stop:
        expose_metrics(services, metrics_port)
        services.sla_watcher().run_forever(stop)
T = TypeVar("T")
M = TypeVar("M", SetCalendar, SetPolicy)

By = Annotated[str, typer.Option("--by", help="Principal recorded as having made the change")]
Reason = Annotated[
    str | None, typer.Option(help="Why it changes (overrides the file's \"reason\")")
]
Version = Annotated[int | None, typer.Option(min=0, help="A past version (default: current)")]
File = Annotated[Path, typer.Argument(help="A JSON file in the shape of the HTTP body")]
READ_ONLY = ("name", "built_in", "changed_by", "changed_at")
"""Members ``show`` prints that ``set`` does not take (``version`` becomes the If-Match)."""


def _context(by: str, body: dict[str, Any]) -> CommandContext:
    """The change's context; a ``version`` in the file is the version it was shown at."""
    for key in READ_ONLY:
        body.pop(key, None)
    version = body.pop("version", None)
    return CommandContext(
        principal=by,
        role=Role.ADMIN.value,
        correlation_id=uuid.uuid4().hex,
        expected_version=version if isinstance(version, int) else None,
    )


def _command(model: type[M], file: Path, reason: str | None, by: str) -> tuple[M, CommandContext]:
    """The change FILE asks for (``--reason`` overriding its ``"reason"``) and its context."""
    body = read_json_object(file)
    ctx = _context(by, body)
    if reason is not None:
        body["reason"] = reason
    with refusals(SlaConfigNotFoundError):
        return model.model_validate(body), ctx


def _report(what: str, saved: Saved[CalendarVersion] | Saved[PolicyVersion]) -> None:
    """What a ``set`` left in force, as JSON, and on stderr whether it recorded a version."""
    body = saved.current.as_json()
    echo_json(body)
    verb = "recorded" if saved.recorded else "unchanged at"
    typer.echo(f"# {what} {verb} version {body['version']}", err=True)


def _with_services(action: Callable[[Any], T]) -> T:
    with refusals(SlaConfigNotFoundError), bootstrap(Settings()) as services:
        return action(services.app.sla)


@policy_cli.command("show")
def policy_show(version: Version = None) -> None:
    """Print the policy in force (or a past version) as JSON."""
    echo_json(_with_services(lambda sla: sla.policy_version(version).as_json()))


@policy_cli.command("set")
def policy_set(file: File, reason: Reason = None, by: By = "cli") -> None:
    """Set the policy from FILE ({"rules": [...], "escalation": {...}, "reason": "..."}): a
    new version, for complaints filed from now on."""
    command, ctx = _command(SetPolicy, file, reason, by)
    _report("policy", _with_services(lambda sla: sla.set_policy_command(command, ctx)))


@calendars_cli.command("list")
def calendars_list() -> None:
    """List the calendars (current versions)."""
    calendars = _with_services(lambda sla: sla.calendars())
    table = Table("name", "version", "timezone", "holidays", "workdays", "changed by",
                  "changed at", "reason")
    for c in calendars:
        table.add_row(
            c.calendar.name, str(c.calendar.version), c.calendar.timezone,
            str(len(c.calendar.holidays)), str(len(c.calendar.workdays)),
            cell(c.changed_by or ""), c.changed_at.isoformat() if c.changed_at else "",
            cell(c.reason or ""),
        )
    console.print(table)


@calendars_cli.command("show")
def calendars_show(
    name: Annotated[str, typer.Argument(help="The calendar's name")], version: Version = None
) -> None:
    """Print a calendar (or a past version) as JSON."""
    echo_json(_with_services(lambda sla: sla.calendar_version(name, version).as_json()))


@calendars_cli.command("set")
def calendars_set(
    name: Annotated[str, typer.Argument(help="The calendar's name")],
    file: File,
    reason: Reason = None,
    by: By = "cli",
) -> None:
    """Define a calendar or record its next version from FILE ({"timezone", "working_hours",
    "holidays", "workdays"})."""
    command, ctx = _command(SetCalendar, file, reason, by)
    _report(f"calendar {name}", _with_services(lambda sla: sla.set_calendar(name, command, ctx)))
