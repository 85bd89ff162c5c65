"""Intake refuses what cannot be a real complaint: implausible instants and unsafe characters.

Each refusal is a 422 naming the field, and nothing is stored (the head of the log is unchanged).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from commands.application import ComplaintsApp
from commands.models import (
    AssignComplaint,
    CloseComplaint,
    CommentOnComplaint,
    EscalateComplaint,
    FileComplaint,
    ReopenComplaint,
)
from tests.api.test_bad_input import head
from tests.intake import intake


def with_value(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    """``body`` with the dotted ``field`` (``attachments.0.name``) set to ``value``."""
    target: Any = body
    *parents, leaf = field.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[int(leaf) if isinstance(target, list) else leaf] = value
    return body


def refused(client: TestClient, app: ComplaintsApp, path: str, body: Any, field: str) -> None:
    before = head(app)
    # Sent as raw bytes, so that escapes such as a lone surrogate reach the server as written.
    r = client.post(
        path, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, (field, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]], (field, r.json())
    assert head(app) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("received_at", "0001-01-01T00:00:00+01:00"),
        ("received_at", "1969-12-31T23:59:59Z"),
        ("received_at", "9999-12-31T23:30:00-01:00"),
        ("occurred_at", "0001-01-01T00:00:00+01:00"),
        ("occurred_at", "1969-07-20T20:17:00Z"),
        ("occurred_at", "9999-01-01T00:00:00Z"),
        ("subject", "nul\u0000here"),
        ("customer.name", "nul\u0000here"),
        ("attachments.0.name", "photo\u0000.jpg"),
        ("subject", "lone \ud800 surrogate"),
        ("customer.name", "lone \udfff surrogate"),
        ("description", "bell \u0007 inside"),
        ("region", "escape \u001b[31m red"),
        ("product.model", "delete \u007f"),
        ("location", "C1 \u0085 control"),
        ("subject", "non-character \ufffe"),
        ("subject", "two\nlines"),
        ("customer.id", "tab\there"),
        ("customer.phone", "138\r\n00138000"),
    ],
)
def test_implausible_filings_are_422_naming_the_field_and_store_nothing(
    client: TestClient, app: ComplaintsApp, field: str, value: str
) -> None:
    refused(client, app, "/complaints", with_value(intake(), field, value), field)


def string_fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every string field of ``model``, nested models and lists of models included."""
    for name, info in model.model_fields.items():
        annotation = info.annotation
        candidates = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
        for candidate in candidates:
            if typing.get_origin(candidate) is typing.Annotated:
                candidate = typing.get_args(candidate)[0]
            inner = typing.get_args(candidate)
            if typing.get_origin(candidate) is list and inner:
                candidate, name_here = inner[0], f"{prefix}{name}.0"
            else:
                name_here = f"{prefix}{name}"
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                yield from string_fields(candidate, f"{name_here}.")
            elif candidate is str:
                yield name_here


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def test_the_field_walk_finds_nested_strings() -> None:
    fields = set(string_fields(FileComplaint))
    assert {"customer.name", "product.order_number", "attachments.0.name", "subject"} <= fields
    assert len(fields) >= 18


def test_every_string_of_a_filing_refuses_nul(client: TestClient, app: ComplaintsApp) -> None:
    for field in string_fields(FileComplaint):
        body = intake(received_by="desk", product={"name": "X9"})
        refused(client, app, "/complaints", with_value(body, field, "a\u0000b"), field)


@pytest.mark.parametrize(
    ("step", "command", "valid"),
    [
        ("assign", AssignComplaint, {"assignee": "bob", "team": "t", "reason": "r"}),
        ("comments", CommentOnComplaint, {"body": "b"}),
        ("escalate", EscalateComplaint, {"reason": "r"}),
        ("close", CloseComplaint, {"resolution_code": "resolved", "summary": "s"}),
    ],
)
def test_every_string_of_every_command_refuses_nul(
    client: TestClient,
    app: ComplaintsApp,
    step: str,
    command: type[BaseModel],
    valid: dict[str, Any],
) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    fields = list(string_fields(command))
    assert fields
    for field in fields:
        refused(client, app, f"/complaints/{cid}/{step}", {**valid, field: "a\u0000b"}, field)


def test_reopen_refuses_nul(client: TestClient, app: ComplaintsApp) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    close = {"resolution_code": "resolved", "summary": "done"}
    assert client.post(f"/complaints/{cid}/close", json=close).status_code == 200
    assert list(string_fields(ReopenComplaint)) == ["reason"]
    refused(client, app, f"/complaints/{cid}/reopen", {"reason": "a\u0000b"}, "reason")


def test_free_text_keeps_tabs_and_newlines_and_normalises_cr_lf(client: TestClient) -> None:
    body = intake(description="Line one\r\nLine two\rLine three\n\tindented")
    filed = client.post("/complaints", json=body)
    assert filed.status_code == 201, filed.text
    assert filed.json()["description"] == "Line one\nLine two\nLine three\n\tindented"
    comment = client.post(
        f"/complaints/{filed.json()['id']}/comments", json={"body": "a\r\nb"}
    ).json()
    assert comment["comments"][-1]["body"] == "a\nb"


def test_the_edges_of_the_range_and_other_scripts_are_accepted(client: TestClient) -> None:
    body = intake(
        received_at="1970-01-01T00:00:00Z",
        occurred_at="1970-01-01T08:00:00+08:00",
        subject="屏幕破裂 — Écran cassé 🙁",
    )
    r = client.post("/complaints", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["subject"] == "屏幕破裂 — Écran cassé 🙁"
