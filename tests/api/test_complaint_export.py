"""The complaint list as a file (issue 13): CSV and Parquet, from the CLI and over HTTP, read
back equal to the list route's rows (every page, the same filters, the caller's scope)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aggregates.vocabulary import Role
from api import cli
from infra.bootstrap import Services
from infra.settings import Settings
from queries.complaint_export import NAMES, PARQUET_SCHEMA, csv_cell
from tests.intake import intake

runner = CliRunner()
PAGE = 2  # list pages of 2: five complaints take three


@pytest.fixture(autouse=True)
def use_store(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))


@pytest.fixture
def filed(client: TestClient, services: Services) -> None:
    """Five complaints: three of product quality (one assigned to team t1, one closed), two of
    logistics; one without a product, one tagged by nothing."""
    bodies = [
        intake(subject="Screen cracked, \"badly\"; replaced"),
        intake(category="logistics", product={"name": "X9 phone"}),
        intake(subject="屏幕破裂", region=None),
        intake(category="logistics", product={}),
        intake(),
    ]
    ids = []
    for body in bodies:
        response = client.post("/complaints", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    client.post(f"/complaints/{ids[0]}/assign", json={"assignee": "bob", "team": "t1"})
    client.post(f"/complaints/{ids[2]}/close", json={"resolution_code": "resolved",
                                                      "summary": "done"})
    services.runner(["complaint_list"]).catch_up()


def listed(client: TestClient, token: str | None = None, **params: Any) -> list[dict[str, Any]]:
    """Every row of GET /complaints, page by page, flattened as the export flattens them."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        paging = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        page = client.get("/complaints", params={**params, **paging}, headers=headers).json()
        rows += [flat(item) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def flat(item: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in NAMES:
        if name.startswith(("customer_", "product_")):
            part, field = name.split("_", 1)
            value = item[part][field]
        elif name == "tags":
            value = ",".join(item["tags"])
        else:
            value = item[name]
        if name.endswith("_at") and value is not None:
            value = datetime.fromisoformat(value)
        row[name] = value
    return row


def as_csv(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: csv_cell(v) for k, v in r.items()} for r in rows]


def read_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == NAMES
    return list(reader)


@pytest.mark.usefixtures("filed")
def test_csv_from_the_cli_is_the_list(client: TestClient, tmp_path: Path) -> None:
    out = tmp_path / "complaints.csv"
    result = runner.invoke(cli.cli, ["export", "complaints", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = listed(client)
    assert len(expected) == 5
    assert read_csv(out.read_text(encoding="utf-8")) == as_csv(expected)


@pytest.mark.usefixtures("filed")
def test_parquet_from_the_cli_with_filters_is_the_filtered_list(
    client: TestClient, tmp_path: Path
) -> None:
    out = tmp_path / "complaints.parquet"
    result = runner.invoke(cli.cli, [
        "export", "complaints", "--format", "parquet", "--out", str(out),
        "--category", "product_quality", "--sort", "filed_at",
    ])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.schema.equals(PARQUET_SCHEMA)
    expected = listed(client, category="product_quality", sort="filed_at")
    assert len(expected) == 3 and table.to_pylist() == expected


@pytest.mark.usefixtures("filed")
def test_over_http_both_formats_are_the_callers_list(
    client: TestClient, role_tokens: dict[Role, str]
) -> None:
    for role in (Role.COMPLIANCE, Role.SUPERVISOR, Role.AGENT):
        token = role_tokens[role]
        headers = {"Authorization": f"Bearer {token}"}
        expected = listed(client, token, status="new")
        got = client.get("/complaints/export", params={"status": "new"}, headers=headers)
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        assert read_csv(got.text) == as_csv(expected)
        got = client.get(
            "/complaints/export", params={"status": "new", "format": "parquet"}, headers=headers
        )
        assert got.status_code == 200, got.text
        assert pq.read_table(io.BytesIO(got.content)).to_pylist() == expected


def test_an_empty_export_is_a_header_or_an_empty_table(client: TestClient) -> None:
    csv_answer = client.get("/complaints/export")
    assert csv_answer.status_code == 200 and read_csv(csv_answer.text) == []
    parquet = client.get("/complaints/export", params={"format": "parquet"})
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 0


def test_bad_filters_are_refused_naming_the_field(client: TestClient) -> None:
    for params, field in (({"format": "xlsx"}, "format"), ({"status": "lost"}, "status")):
        response = client.get("/complaints/export", params=params)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_text(
    client: TestClient, services: Services
) -> None:
    """A customer's subject ``=HYPERLINK(...)`` reaches the CSV with a leading apostrophe (shown
    as text by spreadsheets); Parquet keeps the value as it is."""
    subjects = ["=HYPERLINK(\"http://x.example\",\"click\")", "+1+1", "-2", "@SUM(A1)", "plain"]
    for subject in subjects:
        assert client.post("/complaints", json=intake(subject=subject)).status_code == 201
    services.runner(["complaint_list"]).catch_up()
    rows = read_csv(client.get("/complaints/export", params={"sort": "filed_at"}).text)
    assert [r["subject"] for r in rows] == [f"'{s}" for s in subjects[:4]] + ["plain"]
    table = pq.read_table(io.BytesIO(
        client.get("/complaints/export", params={"sort": "filed_at", "format": "parquet"}).content
    ))
    assert table.column("subject").to_pylist() == subjects
