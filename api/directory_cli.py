"""``complaints directory ...`` and ``complaints routing ...``: teams, agents and the routing rules
from the command line (issue 12), with the same checks as ``PUT /directory/...`` and
``PUT /routing/rules``. Changes are recorded with the principal ``--by`` (default ``cli``), acting
as an admin.
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
from api.terminal_text import cell
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.directory import DirectoryNotFoundError
from commands.directory_models import PutAgent, PutTeam
from commands.routing_models import PutRoutingRules
from infra.bootstrap import bootstrap
from infra.settings import Settings

directory_cli = typer.Typer(help="Teams and agents (routing's directory).", no_args_is_help=True)
team_cli = typer.Typer(help="Define or change a team.", no_args_is_help=True)
agent_cli = typer.Typer(help="Register or change an agent.", no_args_is_help=True)
directory_cli.add_typer(team_cli, name="team")
directory_cli.add_typer(agent_cli, name="agent")
routing_cli = typer.Typer(help="Show or set the routing rules (versioned).", no_args_is_help=True)
console = Console()
T = TypeVar("T")

By = Annotated[str, typer.Option("--by", help="Principal recorded as having made the change")]
Reason = Annotated[str | None, typer.Option(help="Why it changes (recorded)")]


def _context(by: str) -> CommandContext:
    return CommandContext(principal=by, role=Role.ADMIN.value, correlation_id=uuid.uuid4().hex)


def _with_app(action: Callable[[ComplaintsApp], T]) -> T:
    with refusals(DirectoryNotFoundError), bootstrap(Settings()) as services:
        return action(services.app)


def _report(what: str, body: dict[str, Any], created: bool, recorded: bool) -> None:
    echo_json(body)
    verb = "created at" if created else "recorded" if recorded else "unchanged at"
    typer.echo(f"# {what} {verb} version {body['version']}", err=True)


@team_cli.command("put")
def team_put(
    team_id: Annotated[str, typer.Argument(help="The team's id (as tokens' --team name it)")],
    name: Annotated[str, typer.Option(help="Its name")],
    supervisor: Annotated[str | None, typer.Option(help="The supervisor's principal name")] = None,
    reason: Reason = None,
    by: By = "cli",
) -> None:
    """Define a team, or record its new name and supervisor."""
    with refusals(DirectoryNotFoundError):
        command = PutTeam(name=name, supervisor=supervisor, reason=reason)
    saved = _with_app(lambda app: app.directory.put_team(team_id, command, _context(by)))
    _report(f"team {team_id}", saved.current.as_json(), saved.created, saved.recorded)


@agent_cli.command("put")
def agent_put(
    agent_id: Annotated[str, typer.Argument(help="The principal name the agent's token carries")],
    display_name: Annotated[str, typer.Option(help="The name shown")],
    team: Annotated[str | None, typer.Option(help="A team of the directory")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="A category handled (repeat; none: any)")
    ] = None,
    product: Annotated[
        list[str] | None, typer.Option(help="A product name handled (repeat; none: any)")
    ] = None,
    region: Annotated[
        list[str] | None, typer.Option(help="A region handled (repeat; none: any)")
    ] = None,
    language: Annotated[list[str] | None, typer.Option(help="A language spoken (repeat)")] = None,
    available: Annotated[
        bool, typer.Option("--available/--unavailable", help="Unavailable: routed nothing")
    ] = True,
    approval_limit: Annotated[
        str | None, typer.Option(help="Remedies up to this amount need no approval, e.g. 500.00")
    ] = None,
    currency: Annotated[str, typer.Option(help="The approval limit's currency")] = "CNY",
    reason: Reason = None,
    by: By = "cli",
) -> None:
    """Register an agent, or record its new profile (the whole profile: what is left out is
    cleared)."""
    body: dict[str, Any] = {
        "display_name": display_name,
        "team": team,
        "skills": {
            "categories": category or [],
            "products": product or [],
            "regions": region or [],
            "languages": language or [],
        },
        "available": available,
        "approval_limit": (
            {"amount": approval_limit, "currency": currency} if approval_limit else None
        ),
        "reason": reason,
    }
    with refusals(DirectoryNotFoundError):
        command = PutAgent.model_validate(body)
    saved = _with_app(lambda app: app.directory.put_agent(agent_id, command, _context(by)))
    _report(f"agent {agent_id}", saved.current.as_json(), saved.created, saved.recorded)


@directory_cli.command("list")
def directory_list() -> None:
    """List the teams and the agents."""

    def read(app: ComplaintsApp) -> tuple[list[Any], list[Any]]:
        return app.directory.teams(), app.directory.agents()

    teams, agents = _with_app(read)
    table = Table("team", "name", "supervisor", "version")
    for t in teams:
        p = t.profile
        table.add_row(cell(p.team_id), cell(p.name), cell(p.supervisor or ""), str(t.version))
    console.print(table)
    table = Table("agent", "display name", "team", "available", "skills", "approval limit")
    for a in agents:
        p = a.profile
        skills = [*p.skills.categories, *p.skills.products, *p.skills.regions]
        limit = f"{p.approval_limit.amount} {p.approval_limit.currency}" if p.approval_limit else ""
        table.add_row(
            cell(p.agent_id), cell(p.display_name), cell(p.team or ""),
            "yes" if p.available else "no", cell(", ".join(skills) or "any"), limit,
        )
    console.print(table)


@routing_cli.command("show")
def routing_show() -> None:
    """Print the routing rules in force as JSON (the shape ``set`` takes)."""
    echo_json(_with_app(lambda app: app.routing_rules.current().as_json()))


@routing_cli.command("set")
def routing_set(
    file: Annotated[Path, typer.Argument(help='A JSON file: {"rules": [...], "reason": "..."}')],
    reason: Annotated[
        str | None, typer.Option(help="Why it changes (overrides the file's \"reason\")")
    ] = None,
    by: By = "cli",
) -> None:
    """Publish the routing rules from FILE (a file printed by ``show`` works: its read-only
    members are ignored)."""
    body = read_json_object(file)
    for key in ("version", "changed_by", "changed_at"):
        body.pop(key, None)
    if reason is not None:
        body["reason"] = reason
    with refusals(DirectoryNotFoundError):
        command = PutRoutingRules.model_validate(body)
    published = _with_app(lambda app: app.routing_rules.publish(command, _context(by)))
    _report("routing rules", published.current.as_json(), False, published.recorded)
