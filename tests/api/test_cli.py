"""The `complaints` command line, against the same stores as the API."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from infra.bootstrap import Services
from infra.settings import Settings
from projections.runner import Runner
from tests.intake import intake

runner = CliRunner()


@pytest.fixture(autouse=True)
def use_store(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    # The test's own key file, not ./var/secret.key in the work tree.
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))


def test_tokens_create_list_revoke(app: ComplaintsApp) -> None:
    created = runner.invoke(
        cli.cli, ["tokens", "create", "--name", "li.na", "--role", "supervisor"]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    token = app.tokens.authenticate(secret)
    assert token is not None and (token.name, token.role) == ("li.na", "supervisor")

    listed = runner.invoke(cli.cli, ["tokens", "list"])
    assert "li.na" in listed.output and secret not in listed.output

    assert runner.invoke(cli.cli, ["tokens", "revoke", "li.na"]).exit_code == 0
    # Another app revoked it: this one's cache may still say yes for token_cache_seconds.
    assert app.tokens.recheck(token.id) is None
    assert app.tokens.authenticate(secret) is None
    assert runner.invoke(cli.cli, ["tokens", "revoke", "li.na"]).exit_code == 1


def test_bad_role_is_refused() -> None:
    result = runner.invoke(cli.cli, ["tokens", "create", "--name", "x", "--role", "boss"])
    assert result.exit_code != 0


def test_history_by_id_and_by_reference(app: ComplaintsApp, ctx: CommandContext) -> None:
    result = app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    app.handle(result.complaint_id, AssignComplaint(assignee="bob"), ctx)
    reference = app.get_complaint(result.complaint_id).reference
    for key in (str(result.complaint_id), reference):
        shown = runner.invoke(cli.cli, ["history", key], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, shown.output
        assert "filed" in shown.output and "assigned" in shown.output and "bob" in shown.output
    missing = runner.invoke(cli.cli, ["history", "C-0000-0000"])
    assert missing.exit_code == 1 and "no complaint" in missing.output
    story = runner.invoke(cli.cli, ["history", reference, "--story"])
    assert story.exit_code == 0, story.output
    lines = story.output.splitlines()
    assert lines[0] == f"Complaint {reference} ({result.complaint_id})"
    assert lines[-1].endswith("alice: assigned to bob")


def test_serve_writes_the_first_admin_token_to_an_owner_only_file_not_to_stdout(
    monkeypatch: pytest.MonkeyPatch, app: ComplaintsApp, tmp_path: Path
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(k))
    # No background workers: they would outlive this test's store.
    monkeypatch.setenv("COMPLAINTS_WEBHOOKS_IN_SERVE", "false")
    token_file = tmp_path / "secrets" / "admin-token"
    monkeypatch.setenv("COMPLAINTS_ADMIN_TOKEN_FILE", str(token_file))
    serve = ["serve", "--port", "0", "--no-projections"]
    first = runner.invoke(cli.cli, serve)  # the runner's stdout is not a terminal
    assert first.exit_code == 0, first.output
    assert "clt_" not in first.output
    assert str(token_file.resolve()) in first.output and "tokens create" in first.output
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    secret = token_file.read_text().strip()
    token = app.tokens.authenticate(secret)
    assert token is not None and token.role == "admin"

    token_file.unlink()
    second = runner.invoke(cli.cli, serve)
    assert second.exit_code == 0, second.output
    assert "admin token" not in second.output and not token_file.exists()
    assert len(started) == 2


def test_tokens_can_expire(app: ComplaintsApp) -> None:
    created = runner.invoke(
        cli.cli, ["tokens", "create", "--name", "contractor", "--expires-in-days", "30"]
    )
    assert created.exit_code == 0, created.output
    token = app.tokens.authenticate(created.stdout.strip().splitlines()[0])
    assert token is not None and token.expires_at is not None
    remaining = token.expires_at - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < remaining <= timedelta(days=30)
    listed = runner.invoke(cli.cli, ["tokens", "list"], env={"COLUMNS": "250"})
    assert token.expires_at.isoformat()[:16] in listed.output
    refused = runner.invoke(cli.cli, ["tokens", "create", "--name", "x", "--expires-in-days", "0"])
    assert refused.exit_code != 0


@pytest.mark.parametrize(
    ("lifetime", "expected"),
    [("90m", timedelta(minutes=90)), ("12h", timedelta(hours=12)), ("30d", timedelta(days=30))],
)
def test_tokens_carry_teams_grants_and_a_lifetime(
    app: ComplaintsApp, lifetime: str, expected: timedelta
) -> None:
    created = runner.invoke(
        cli.cli,
        [
            "tokens",
            "create",
            "--name",
            "ina",
            "--role",
            "analyst",
            "--team",
            "east",
            "--team",
            "west",
            "--grant",
            "personal_data",
            "--expires-in",
            lifetime,
        ],
    )
    assert created.exit_code == 0, created.output
    token = app.tokens.authenticate(created.stdout.strip().splitlines()[0])
    assert token is not None and token.expires_at is not None
    assert (token.role, token.teams, token.grants) == (
        "analyst",
        ("east", "west"),
        frozenset({"personal_data"}),
    )
    remaining = token.expires_at - datetime.now(UTC)
    assert expected - timedelta(minutes=1) < remaining <= expected
    listed = runner.invoke(cli.cli, ["tokens", "list"], env={"COLUMNS": "250"})
    assert "east, west" in listed.output and "personal_data" in listed.output


@pytest.mark.parametrize("lifetime", ["3w", "0d", "12", "4000d"])
def test_a_bad_lifetime_is_refused_naming_the_option(app: ComplaintsApp, lifetime: str) -> None:
    refused = runner.invoke(cli.cli, ["tokens", "create", "--name", "x", "--expires-in", lifetime])
    assert refused.exit_code == 2 and "--expires-in" in refused.output
    assert app.tokens.all() == []


def test_every_command_has_help() -> None:
    for args in (["--help"], ["serve", "--help"], ["tokens", "--help"], ["history", "--help"]):
        assert runner.invoke(cli.cli, args).exit_code == 0


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[Services]:
    """The services that commands built, recorded as they are closed."""
    closed: list[Services] = []
    close = Services.close

    def recording(self: Services) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(Services, "close", recording)
    return closed


def test_projections_rebuild_closes_what_it_opened(
    app: ComplaintsApp, ctx: CommandContext, closed: list[Services]
) -> None:
    app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    result = runner.invoke(cli.cli, ["projections", "rebuild", "--all"])
    assert result.exit_code == 0, result.output
    assert [services.app is app for services in closed] == [False]


def test_projections_run_closes_what_it_opened(
    app: ComplaintsApp, closed: list[Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: Runner, stop: threading.Event) -> None:
        raise KeyboardInterrupt  # Ctrl-C at once

    monkeypatch.setattr(Runner, "run_forever", interrupted)
    result = runner.invoke(cli.cli, ["projections", "run"])
    assert result.exit_code == 0, result.output
    assert [services.app is app for services in closed] == [False]
