"""Exporting every event (``GET /events/export``, ``complaints export events``), on SQLite and
PostgreSQL: the same envelopes as the cursor API, in JSONL and in Parquet, filtered and masked."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aggregates.vocabulary import Role
from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, CommentOnComplaint, FileComplaint
from infra.settings import Settings
from stream.export import ExportFilter, event_time, pages, write_parquet
from tests.intake import intake

runner = CliRunner()


@pytest.fixture(autouse=True)
def use_store(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))


@pytest.fixture
def recorded(app: ComplaintsApp, ctx: CommandContext) -> None:
    for n in range(3):
        complaint_id = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
        app.handle(complaint_id, AssignComplaint(assignee=f"agent{n}"), ctx)
        app.handle(complaint_id, CommentOnComplaint(body=f"called the customer {n}"), ctx)


def as_(client: TestClient, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def feed(client: TestClient, token: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/events", params={"limit": 1000, **params}, headers=as_(client, token))
    assert response.status_code == 200, response.text
    return response.json()["events"]  # type: ignore[no-any-return]


def export(client: TestClient, token: str, **params: Any) -> bytes:
    response = client.get("/events/export", params=params, headers=as_(client, token))
    assert response.status_code == 200, response.text
    return response.content


def lines(content: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in content.decode().splitlines()]


def rows(content: bytes) -> list[dict[str, Any]]:
    return pq.read_table(io.BytesIO(content)).to_pylist()  # type: ignore[no-any-return]


@pytest.mark.usefixtures("recorded")
def test_jsonl_over_http_and_from_the_cli_is_the_feed(
    client: TestClient, role_tokens: dict[Role, str], tmp_path: Path
) -> None:
    token = role_tokens[Role.COMPLIANCE]
    events = feed(client, token)
    assert len(events) >= 9  # filed, assigned, commented (and any automatic ones) x 3
    assert lines(export(client, token, format="jsonl")) == events

    out = tmp_path / "events.jsonl"
    result = runner.invoke(cli.cli, ["export", "events", "--format", "jsonl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert lines(out.read_bytes()) == events  # the operator sees what compliance does


@pytest.mark.usefixtures("recorded")
def test_paging_through_the_log_changes_nothing(app: ComplaintsApp) -> None:
    whole = [e for page in pages(app, ExportFilter()) for e in page]
    paged = [e for page in pages(app, ExportFilter(), page_size=2) for e in page]
    assert [e["id"] for e in paged] == [e["id"] for e in whole] and len(whole) >= 9


@pytest.mark.usefixtures("recorded")
def test_parquet_round_trip_has_one_row_per_event_of_the_cursor_api(
    client: TestClient, role_tokens: dict[Role, str], tmp_path: Path
) -> None:
    token = role_tokens[Role.SERVICE]
    events = feed(client, token)
    content = export(client, token, format="parquet")
    table = pq.read_table(io.BytesIO(content))
    assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("position").type == pa.int64()
    got = table.to_pylist()
    assert [r["id"] for r in got] == [e["id"] for e in events]
    assert [r["position"] for r in got] == [e["position"] for e in events]
    assert [json.loads(r["data"]) for r in got] == [e["data"] for e in events]
    assert [r["time"] for r in got] == [event_time(e) for e in events]
    assert [r["causationid"] for r in got] == [e.get("causationid") for e in events]

    out = tmp_path / "events.parquet"
    result = runner.invoke(cli.cli, ["export", "events", "--format", "parquet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in pq.read_table(out).to_pylist()] == [e["id"] for e in events]


def test_parquet_is_written_in_row_groups(app: ComplaintsApp, recorded: None) -> None:
    buffer = io.BytesIO()
    count = write_parquet(pages(app, ExportFilter()), buffer, row_group_size=4)
    events = [e for page in pages(app, ExportFilter()) for e in page]
    assert count == len(events) >= 9
    assert pq.ParquetFile(io.BytesIO(buffer.getvalue())).num_row_groups == -(-count // 4)


def test_an_empty_export_is_a_valid_file(
    client: TestClient, role_tokens: dict[Role, str]
) -> None:
    token = role_tokens[Role.ANALYST]
    assert rows(export(client, token, format="parquet")) == []
    assert export(client, token, format="jsonl") == b""


@pytest.mark.usefixtures("recorded")
def test_types_after_and_time_filters(client: TestClient, role_tokens: dict[Role, str]) -> None:
    token = role_tokens[Role.COMPLIANCE]
    events = feed(client, token)

    filed = [e for e in events if e["type"] == "complaint.filed"]
    assert len(filed) == 3
    assert lines(export(client, token, types="complaint.filed")) == filed
    assert [r["id"] for r in rows(export(client, token, format="parquet", types="complaint.filed"))
            ] == [e["id"] for e in filed]

    after = events[3]["position"]
    assert lines(export(client, token, after=after)) == events[4:]

    start, end = events[2]["time"], events[7]["time"]
    expected = [
        e for e in events
        if datetime.fromisoformat(start) <= event_time(e) < datetime.fromisoformat(end)
    ]
    assert expected and len(expected) < len(events)
    assert lines(export(client, token, **{"from": start, "to": end})) == expected
    assert [r["id"] for r in rows(export(client, token, format="parquet", **{"from": start}))
            ] == [e["id"] for e in events if event_time(e) >= datetime.fromisoformat(start)]


@pytest.mark.usefixtures("recorded")
def test_an_analyst_without_the_grant_gets_personal_fields_masked_in_both_formats(
    client: TestClient, role_tokens: dict[Role, str]
) -> None:
    analyst = role_tokens[Role.ANALYST]
    masked = feed(client, analyst)
    clear = feed(client, role_tokens[Role.COMPLIANCE])
    assert masked[0]["type"] == "complaint.filed"
    assert masked[0]["data"]["description"] == "[masked]" != clear[0]["data"]["description"]

    assert lines(export(client, analyst)) == masked
    assert [json.loads(r["data"]) for r in rows(export(client, analyst, format="parquet"))
            ] == [e["data"] for e in masked]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "csv"}, "format"),
        ({"types": "complaint.nothing"}, "types"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-01-01T00:00:00"}, "to"),  # no UTC offset
        ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"after": "-1"}, "after"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient, role_tokens: dict[Role, str], params: dict[str, str], field: str
) -> None:
    response = client.get(
        "/events/export", params=params, headers=as_(client, role_tokens[Role.COMPLIANCE])
    )
    assert response.status_code == 422, response.text
    assert field in {e.get("field") for e in response.json()["errors"]}, response.text


def test_the_cli_refuses_an_unknown_type(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = runner.invoke(
        cli.cli, ["export", "events", "--types", "complaint.nothing", "--out", str(out)]
    )
    assert result.exit_code == 2 and "--types" in result.output and not out.exists()
