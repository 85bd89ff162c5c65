"""``complaints automation ...``: automation rules from the command line (issue 12).

``show`` prints what ``GET /automation/rules/{id}`` answers and ``put`` takes a JSON file in the
shape of ``PUT /automation/rules/{id}`` (the read-only members of a shown file are ignored, its
``version`` becomes ``If-Match``), so a rule can be shown, edited and put again. Changes are
recorded with the principal ``--by`` (default ``cli``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from aggregates.vocabulary import Role
from api.config_cli import echo_json, read_json_object, refusals
from api.terminal_text import cell
from commands.automation_config import AutomationConfig, RuleNotFoundError
from commands.automation_models import PutRule
from commands.context import CommandContext
from commands.errors import (
    ComplaintNotFoundError,
)
from infra.bootstrap import bootstrap
from infra.settings import Settings

automation_cli = typer.Typer(
    help="Automation rules: list, show, put (define or switch), dry-run.", no_args_is_help=True
)
console = Console()
T = TypeVar("T")
RuleId = Annotated[str, typer.Argument(help="The rule's id, e.g. legal-risk")]
READ_ONLY = ("rule_id", "built_in", "changed_by", "changed_at")


def _with_rules(action: Callable[[AutomationConfig], T]) -> T:
    with refusals(RuleNotFoundError, ComplaintNotFoundError), bootstrap(Settings()) as services:
        return action(services.app.automation)


@automation_cli.command("list")
def list_rules() -> None:
    """List the rules in force (the shipped defaults at version 0 until changed)."""
    table = Table("id", "version", "enabled", "on", "name", "changed by", "reason")
    for v in _with_rules(lambda rules: rules.versions()):
        r = v.rule
        table.add_row(r.rule_id, str(r.version), "yes" if r.enabled else "no",
                      ", ".join(sorted(r.on)), cell(r.name), cell(v.changed_by or ""),
                      cell(v.reason or ""))
    console.print(table)


@automation_cli.command("show")
def show(rule_id: RuleId) -> None:
    """Print a rule as JSON."""
    echo_json(_with_rules(lambda rules: rules.version(rule_id).as_json()))


@automation_cli.command("put")
def put(
    rule_id: RuleId,
    file: Annotated[Path, typer.Argument(help="A JSON file in the shape of the HTTP body")],
    by: Annotated[str, typer.Option("--by", help="Principal recorded as making it")] = "cli",
) -> None:
    """Define the rule's next version from FILE (or only the fields it has, over the rule in
    force: {"enabled": false} switches one off)."""
    body: dict[str, Any] = read_json_object(file)
    for key in READ_ONLY:
        body.pop(key, None)
    version = body.pop("version", None)
    ctx = CommandContext(by, Role.ADMIN.value, uuid.uuid4().hex,
                         expected_version=version if isinstance(version, int) else None)
    with refusals(RuleNotFoundError, ComplaintNotFoundError):
        command = PutRule.model_validate(body)
    saved = _with_rules(lambda rules: rules.put(rule_id, command, ctx))
    echo_json(saved.current.as_json())
    verb = "recorded" if saved.recorded else "unchanged at"
    typer.echo(f"# rule {rule_id} {verb} version {saved.current.rule.version}", err=True)


@automation_cli.command("dry-run")
def dry_run(
    rule_id: RuleId,
    complaint: Annotated[str, typer.Argument(help="The complaint's id")],
) -> None:
    """What the rule would do on each of the complaint's events (nothing is saved)."""
    try:
        complaint_id = UUID(complaint)
    except ValueError:
        typer.echo(f"not a complaint id: {complaint}", err=True)
        raise typer.Exit(2) from None
    echo_json(_with_rules(lambda rules: rules.dry_run(rule_id, complaint_id)))
