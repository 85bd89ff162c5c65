"""Complaints stored before intake was hardened (year-1 instants, NUL text) still read back.

The strongly consistent read paths replay the event store, so they meet such events as they are:
``GET /complaints/{id}``, ``?as_of=``, ``/history``, ``/comments`` and ``complaints history``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import cli
from commands.application import ComplaintsApp
from tests.poison import NUL_TEXT, POISONS, store_poison, store_poison_comment


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_poisoned_complaint_reads_back_on_every_path(
    client: TestClient, app: ComplaintsApp, poison: str
) -> None:
    cid = store_poison(app, **POISONS[poison])
    store_poison_comment(app, cid)
    shown = client.get(f"/complaints/{cid}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["comments"][-1]["body"] == NUL_TEXT  # the stored truth, unaltered
    now = datetime.now(UTC).isoformat()
    as_of = client.get(f"/complaints/{cid}", params={"as_of": now})
    assert as_of.status_code == 200 and as_of.json() == shown.json()
    history = client.get(f"/complaints/{cid}/history")
    assert history.status_code == 200
    assert [e["type"] for e in history.json()["events"]] == ["filed", "commented"]
    story = client.get(f"/complaints/{cid}/history", params={"format": "text"})
    assert story.status_code == 200 and len(story.text.splitlines()) == 3 + 2
    comments = client.get(f"/complaints/{cid}/comments")
    assert comments.status_code == 200 and comments.json()["total"] == 1
    by_reference = client.get(f"/complaints/by-reference/{shown.json()['reference']}")
    assert by_reference.status_code == 200 and by_reference.json()["id"] == str(cid)


def test_the_stored_values_are_shown_as_stored(client: TestClient, app: ComplaintsApp) -> None:
    cid = store_poison(app, **POISONS["received-before-year-one"])
    assert client.get(f"/complaints/{cid}").json()["received_at"] == "0001-01-01T00:00:00+01:00"
    cid = store_poison(app, **POISONS["nul-in-customer-name"])
    assert client.get(f"/complaints/{cid}").json()["customer"]["name"] == NUL_TEXT


def history_output(database_url: str, monkeypatch: pytest.MonkeyPatch, key: str) -> Any:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    return CliRunner().invoke(cli.cli, ["history", key], env={"COLUMNS": "200"})


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_cli_history_prints_a_poisoned_complaint(
    app: ComplaintsApp, database_url: str, monkeypatch: pytest.MonkeyPatch, poison: str
) -> None:
    cid = store_poison(app, **POISONS[poison])
    store_poison_comment(app, cid)
    shown = history_output(database_url, monkeypatch, str(cid))
    assert shown.exit_code == 0, shown.output
    assert "filed" in shown.output and "commented" in shown.output


def test_cli_history_shows_markup_and_escape_sequences_literally(
    app: ComplaintsApp, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = store_poison(app, subject="[/bold] refund \x1b[31mnow\x07")
    shown = history_output(database_url, monkeypatch, str(cid))
    assert shown.exit_code == 0, shown.output
    assert "[/bold] refund \\x1b[31mnow\\x07" in shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output
