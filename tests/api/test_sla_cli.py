"""`complaints sla policy|calendars ...` on both stores: JSON files in, the HTTP shape out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api import cli
from commands.application import ComplaintsApp
from infra.settings import Settings

runner = CliRunner()
OFFICE: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "working_hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-10-01"],
    "workdays": ["2026-09-27"],
    "reason": "office hours",
}


@pytest.fixture(autouse=True)
def use_store(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))


def write(tmp_path: Path, name: str, body: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_calendars_set_list_show_round_trip(app: ComplaintsApp, tmp_path: Path) -> None:
    made = runner.invoke(
        cli.cli, ["sla", "calendars", "set", "cn-office", write(tmp_path, "cal.json", OFFICE),
                  "--by", "li.na"],
    )
    assert made.exit_code == 0, made.output
    shown = json.loads(made.stdout)
    assert (shown["version"], shown["changed_by"], shown["reason"]) == (1, "li.na", "office hours")
    assert app.sla.calendar("cn-office").workdays  # the running app sees it

    # show prints what set takes: edit it and set it again.
    out = runner.invoke(cli.cli, ["sla", "calendars", "show", "cn-office"])
    assert out.exit_code == 0, out.output
    edited = json.loads(out.stdout)
    edited["holidays"].append("2026-10-02")
    again = runner.invoke(
        cli.cli, ["sla", "calendars", "set", "cn-office", write(tmp_path, "e.json", edited),
                  "--reason", "golden week"],
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["version"] == 2
    assert app.sla.calendar_version("cn-office").reason == "golden week"
    assert app.sla.calendar_version("cn-office").changed_by == "cli"

    # The shown file names version 1: set again, it is refused as stale.
    stale = runner.invoke(
        cli.cli, ["sla", "calendars", "set", "cn-office", write(tmp_path, "e.json", edited)]
    )
    assert stale.exit_code == 1 and "version 2, not 1" in stale.output

    old = runner.invoke(cli.cli, ["sla", "calendars", "show", "cn-office", "--version", "1"])
    assert json.loads(old.stdout)["holidays"] == ["2026-10-01"]
    listed = runner.invoke(cli.cli, ["sla", "calendars", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "24x7" in listed.output and "cn-office" in listed.output
    missing = runner.invoke(cli.cli, ["sla", "calendars", "show", "nowhere"])
    assert missing.exit_code == 1 and "no calendar" in missing.output


def test_policy_show_set_round_trip(app: ComplaintsApp, tmp_path: Path) -> None:
    shown = runner.invoke(cli.cli, ["sla", "policy", "show"])
    assert shown.exit_code == 0, shown.output
    policy = json.loads(shown.stdout)
    assert policy["version"] == 0
    policy["rules"].insert(0, {**policy["rules"][0], "name": "vip",
                               "when": {"tier": ["vip"]}, "first_response": "PT1H"})
    policy["reason"] = "VIPs answered within the hour"
    made = runner.invoke(cli.cli, ["sla", "policy", "set", write(tmp_path, "p.json", policy)])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["version"] == 1
    assert app.sla.terms_for("low", "vip", "billing", "web")[1].name == "vip"
    v0 = runner.invoke(cli.cli, ["sla", "policy", "show", "--version", "0"])
    assert json.loads(v0.stdout)["rules"][0]["name"] == "default"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"rules": [{"name": "a", "when": {"tier": ["vip"]}, "first_response": "PT1H",
                     "resolution": "P1D"}], "reason": "x"}, "rules.0.when"),
        ({"rules": [{"name": "a", "first_response": "soon", "resolution": "P1D"}],
          "reason": "x"}, "rules.0.first_response"),
        ({"rules": [{"name": "a", "first_response": "PT1H", "resolution": "P1D"}]}, "reason"),
    ],
)
def test_a_bad_policy_file_names_the_field_and_exits_1(
    app: ComplaintsApp, tmp_path: Path, body: dict[str, Any], expected: str
) -> None:
    result = runner.invoke(cli.cli, ["sla", "policy", "set", write(tmp_path, "p.json", body)])
    assert result.exit_code == 1 and expected in result.output, result.output
    assert app.sla.policy().version == 0


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    for path in (tmp_path / "broken.json", tmp_path / "absent.json"):
        result = runner.invoke(cli.cli, ["sla", "policy", "set", str(path)])
        assert result.exit_code == 2 and "cannot read" in result.output
