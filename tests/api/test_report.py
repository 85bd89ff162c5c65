"""The summary report (``GET /reports/summary.html``, ``complaints report``) on SQLite and
PostgreSQL: its figures are the analytics summary's where they overlap, durations and products
are those of the complaints filed, bad parameters are 422s naming the field, and user-controlled
text is escaped. The page in a real browser: tests/api/test_report_browser.py."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aggregates.vocabulary import ResolutionCode, Role, Visibility
from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import CloseComplaint, CommentOnComplaint, FileComplaint
from infra.bootstrap import Services
from infra.settings import Settings
from projections.registry import build
from projections.runner import Runner
from queries.report import summary_report
from tests.intake import intake

runner = CliRunner()
EVIL = "<script>alert(1)</script>"
# (category, channel, product, hours before now received, answered, closed)
CASES: list[tuple[str, str, str | None, float, bool, bool]] = [
    ("product_quality", "web", "扫地机器人 X9", 0.5, True, True),
    ("product_quality", "app", "扫地机器人 X9", 3, True, False),
    ("product_quality", "phone", EVIL, 6, True, True),
    ("logistics", "web", "X9 phone", 30, True, True),
    ("logistics", "wechat", "X9 phone", 50, False, False),
    ("billing", "email", None, 100, True, True),
]


@pytest.fixture
def recorded(app: ComplaintsApp, ctx: CommandContext, settings: Settings) -> dict[str, Any]:
    """The cases above, received in the last week, answered and closed now; the views caught
    up. Returns the expected per-complaint durations (seconds) and products."""
    now = datetime.now(UTC)
    first_responses, resolutions = [], []
    for category, channel, product, hours, answered, closed in CASES:
        body = intake(
            category=category, channel=channel,
            received_at=(now - timedelta(hours=hours)).isoformat(),
            occurred_at=(now - timedelta(hours=hours + 1)).isoformat(),
        )
        body["product"] = {"name": product} if product else {"order_number": "SO-1"}
        complaint_id = app.file_complaint(FileComplaint.model_validate(body), ctx).complaint_id
        if answered:
            reply = CommentOnComplaint(body="on it", visibility=Visibility.CUSTOMER)
            app.handle(complaint_id, reply, ctx)
            first_responses.append(hours * 3600)
        if closed:
            close = CloseComplaint(resolution_code=ResolutionCode.RESOLVED, summary="ok")
            app.handle(complaint_id, close, ctx)
            resolutions.append(hours * 3600)
    Runner(app, build(report_tz=settings.report_tz)).catch_up()
    return {
        "first_responses": first_responses,
        "resolutions": resolutions,
        "products": Counter(c[2] for c in CASES),
    }


def week(settings: Settings) -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}


def test_the_report_shows_the_summary_figures(
    client: TestClient, services: Services, settings: Settings, recorded: dict[str, Any]
) -> None:
    days = week(settings)
    made = summary_report(
        services.read_models, date.fromisoformat(days["from"]), date.fromisoformat(days["to"]),
        settings.report_tz,
    ).model_dump(mode="json", by_alias=True)
    summaries = {
        by: client.get("/analytics/summary", params={**days, "group_by": by}).json()
        for by in ("day", "category", "channel")
    }
    assert made["group_by"] == "day"
    assert made["totals"] == summaries["day"]["totals"]
    assert made["periods"] == summaries["day"]["groups"]
    for dimension, field in (("category", "categories"), ("channel", "channels")):
        assert sorted(made[field], key=lambda g: g["key"]) == summaries[dimension]["groups"]
        assert [g["filed"] for g in made[field]] == sorted(
            (g["filed"] for g in made[field]), reverse=True
        )
    assert made["totals"]["filed"] == len(CASES)


def test_durations_and_products_are_the_complaints(
    services: Services, settings: Settings, recorded: dict[str, Any]
) -> None:
    days = week(settings)
    made = summary_report(
        services.read_models, date.fromisoformat(days["from"]), date.fromisoformat(days["to"]),
        settings.report_tz, top=2,
    )
    totals = made.totals
    for shown, expected, mean in (
        (made.first_response, recorded["first_responses"], totals.mean_first_response_seconds),
        (made.resolution, recorded["resolutions"], totals.mean_resolution_seconds),
    ):
        assert shown.count == len(expected) == sum(b.count for b in shown.bins)
        # Answered and closed "now", a few seconds after the test computed its receipts.
        assert shown.mean_seconds == pytest.approx(sum(expected) / len(expected), abs=60)
        assert shown.mean_seconds == pytest.approx(mean, abs=0.01)  # the summary's mean
    # 0.5 h, 3 h, 6 h, 30 h and 100 h: one each in "< 1 h", "1-4 h", "4-8 h", "24-48 h", "72 h-7 d"
    assert [b.count for b in made.first_response.bins] == [1, 1, 1, 0, 1, 0, 1, 0, 0, 0]
    expected_top = sorted(recorded["products"].items(), key=lambda p: (-p[1], p[0] or ""))[:2]
    assert [(p.product, p.filed) for p in made.top_products] == expected_top


def test_the_page_is_served_to_analysts_with_every_value_escaped(
    client: TestClient, recorded: dict[str, Any], settings: Settings
) -> None:
    page = client.get("/reports/summary.html", params=week(settings))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "alert(1)" in html and EVIL not in html and "<script>alert" not in html
    # plotly's JSON escapes non-ASCII with the json module, not with orjson (installed for the
    # event export): either is the name, intact.
    assert "扫地机器人 X9" in html or json.dumps("扫地机器人 X9")[1:-1] in html
    assert html.count("Plotly.newPlot(") == 7
    assert html.count("* plotly.js v") == 1 and "<script src" not in html  # inline, once
    agent = {"Authorization": f"Bearer {client.tokens[Role.AGENT]}"}
    denied = client.get("/reports/summary.html", headers=agent)
    assert denied.status_code == 403


BAD_PARAMETERS: list[tuple[dict[str, str], str]] = [
    ({"from": "2026-02-01", "to": "2026-01-01"}, "to"),
    ({"from": "2026-13-01"}, "from"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
    ({"group_by": "year"}, "group_by"),
    ({"top": "0"}, "top"),
]


def test_bad_parameters_are_named(client: TestClient) -> None:
    for params, field in BAD_PARAMETERS:
        bad = client.get("/reports/summary.html", params=params)
        assert bad.status_code == 422, params
        assert bad.json()["errors"][0]["field"] == field, params


@pytest.fixture
def use_store(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))


def without_time_made(html: str) -> str:
    return re.sub(r"generated [^<]*<", "generated <", html)


@pytest.mark.usefixtures("use_store")
def test_the_command_writes_the_page_the_route_serves(
    client: TestClient, recorded: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    days = week(settings)
    out = tmp_path / "report.html"
    result = runner.invoke(
        cli.cli, ["report", "--from", days["from"], "--to", days["to"], "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    served = client.get("/reports/summary.html", params=days).text
    assert without_time_made(out.read_text(encoding="utf-8")) == without_time_made(served)


@pytest.mark.usefixtures("use_store")
def test_the_command_names_a_bad_option(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    for args, option in (
        (["--from", "2026-02-01", "--to", "2026-01-01"], "--to"),
        (["--from", "yesterday"], "--from"),
        (["--group-by", "year"], "--group-by"),
    ):
        result = runner.invoke(cli.cli, ["report", *args, "--out", str(out)])
        assert result.exit_code == 2 and option in result.output, result.output
        assert not out.exists()
