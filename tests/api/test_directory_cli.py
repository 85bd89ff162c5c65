"""`complaints directory ...` and `complaints routing ...` on both stores (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import cli
from commands.application import ComplaintsApp
from infra.settings import Settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def use_store(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))


def test_directory_and_routing_from_the_command_line(app: ComplaintsApp, tmp_path: Path) -> None:
    team = runner.invoke(cli.cli, ["directory", "team", "put", "east", "--name", "East",
                                   "--supervisor", "li.na", "--by", "ops"])
    assert team.exit_code == 0, team.output
    assert json.loads(team.stdout)["changed_by"] == "ops"
    agent = runner.invoke(cli.cli, [
        "directory", "agent", "put", "wang.fang", "--display-name", "王芳", "--team", "east",
        "--category", "logistics", "--category", "billing", "--unavailable",
        "--approval-limit", "500.00", "--currency", "CNY",
    ])
    assert agent.exit_code == 0, agent.output
    profile = app.directory.agent_record("wang.fang").profile
    assert (profile.skills.categories, profile.available) == (("logistics", "billing"), False)
    assert profile.approval_limit is not None and str(profile.approval_limit.amount) == "500.00"
    refused = runner.invoke(cli.cli, ["directory", "agent", "put", "li", "--display-name", "Li",
                                      "--team", "nowhere"])
    assert refused.exit_code == 1 and "team: names no team" in refused.output
    listed = runner.invoke(cli.cli, ["directory", "list"])
    assert listed.exit_code == 0 and "wang.fang" in listed.stdout

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [{"name": "east", "team": "east"}]}))
    published = runner.invoke(cli.cli, ["routing", "set", str(rules), "--reason", "start"])
    assert published.exit_code == 0, published.output
    shown = runner.invoke(cli.cli, ["routing", "show"])
    rules.write_text(shown.stdout)  # what show prints, set takes: nothing changes
    again = runner.invoke(cli.cli, ["routing", "set", str(rules)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["version"] == 1 == app.routing_rules.current().version
