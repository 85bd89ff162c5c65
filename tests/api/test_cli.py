"""The `complaints` command line, against the same stores as the API."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from tests.intake import intake

runner = CliRunner()


@pytest.fixture(autouse=True)
def use_store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)


def test_tokens_create_list_revoke(app: ComplaintsApp) -> None:
    created = runner.invoke(
        cli.cli, ["tokens", "create", "--name", "li.na", "--role", "supervisor"]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    token = app.authenticate(secret)
    assert token is not None and (token.name, token.role) == ("li.na", "supervisor")

    listed = runner.invoke(cli.cli, ["tokens", "list"])
    assert "li.na" in listed.output and secret not in listed.output

    assert runner.invoke(cli.cli, ["tokens", "revoke", "li.na"]).exit_code == 0
    app._token_cache.clear()  # another process revoked it; skip the 5 s cache for the test
    assert app.authenticate(secret) is None
    assert runner.invoke(cli.cli, ["tokens", "revoke", "li.na"]).exit_code == 1


def test_bad_role_is_refused() -> None:
    result = runner.invoke(cli.cli, ["tokens", "create", "--name", "x", "--role", "boss"])
    assert result.exit_code != 0


def test_history_by_id_and_by_reference(app: ComplaintsApp, ctx: CommandContext) -> None:
    result = app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    app.assign(result.complaint_id, AssignComplaint(assignee="bob"), ctx)
    reference = app.get_complaint(result.complaint_id).reference
    for key in (str(result.complaint_id), reference):
        shown = runner.invoke(cli.cli, ["history", key], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, shown.output
        assert "filed" in shown.output and "assigned" in shown.output and "bob" in shown.output
    missing = runner.invoke(cli.cli, ["history", "C-0000-0000"])
    assert missing.exit_code == 1 and "no complaint" in missing.output


def test_serve_creates_an_admin_token_once_on_an_empty_store(
    monkeypatch: pytest.MonkeyPatch, app: ComplaintsApp
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(k))
    # No background workers: they would outlive this test's store.
    monkeypatch.setenv("COMPLAINTS_WEBHOOKS_IN_SERVE", "false")
    serve = ["serve", "--port", "0", "--no-projections"]
    first = runner.invoke(cli.cli, serve)
    assert first.exit_code == 0, first.output
    secret = next(w for w in first.output.split() if w.startswith("clt_"))
    assert app.authenticate(secret) is not None and app.authenticate(secret).role == "admin"  # type: ignore[union-attr]
    assert "tokens create" in first.output
    second = runner.invoke(cli.cli, serve)
    assert "clt_" not in second.output
    assert len(started) == 2


def test_every_command_has_help() -> None:
    for args in (["--help"], ["serve", "--help"], ["tokens", "--help"], ["history", "--help"]):
        assert runner.invoke(cli.cli, args).exit_code == 0
