"""`complaints automation list|show|put|dry-run` on both stores: the HTTP shapes, a shown rule put
back after an edit, a bad file naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.settings import Settings
from tests.intake import intake

runner = CliRunner()


@pytest.fixture(autouse=True)
def use_store(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))


def test_show_edit_put_list_and_dry_run(
    app: ComplaintsApp, ctx: CommandContext, tmp_path: Path
) -> None:
    shown = runner.invoke(cli.cli, ["automation", "show", "media-risk"])
    assert shown.exit_code == 0, shown.output
    rule = json.loads(shown.stdout)
    assert rule["version"] == 0 and rule["built_in"]
    rule.update(enabled=False, reason="too noisy")
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(rule, ensure_ascii=False), encoding="utf-8")
    put = runner.invoke(cli.cli, ["automation", "put", "media-risk", str(path)])
    assert put.exit_code == 0, put.output
    assert json.loads(put.stdout)["version"] == 1
    stale = runner.invoke(cli.cli, ["automation", "put", "media-risk", str(path)])
    assert stale.exit_code == 1 and "version 1, not 0" in stale.output  # If-Match from the file
    listed = runner.invoke(cli.cli, ["automation", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "media-risk" in listed.stdout

    cid = app.file_complaint(FileComplaint.model_validate(
        intake(description="记者会报道这件事")), ctx).complaint_id
    dry = runner.invoke(cli.cli, ["automation", "dry-run", "media-risk", str(cid)])
    assert dry.exit_code == 0, dry.output
    (match,) = json.loads(dry.stdout)["matches"]
    assert match["event_type"] == "filed" and {"action": "add_tag", "tag": "media_risk"} in (
        match["actions"])

    path.write_text(json.dumps({"on": ["filed"], "then": [{"add_tag": "x y"}]}), encoding="utf-8")
    bad = runner.invoke(cli.cli, ["automation", "put", "new-rule", str(path)])
    assert bad.exit_code == 1 and "then.0.add_tag" in bad.output
