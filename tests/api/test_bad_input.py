"""Bad input gets a 4xx problem document naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from tests.intake import intake


def head(app: ComplaintsApp) -> int:
    return app.recorder.max_notification_id() or 0


def without(field: str) -> dict[str, Any]:
    body = intake()
    target = body
    *parents, leaf = field.split(".")
    for p in parents:
        target = target[p]
    del target[leaf]
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (without("customer.id"), "customer.id"),
        (without("customer.name"), "customer.name"),
        (intake(customer={"id": "C", "name": "N"}), "customer"),
        (without("category"), "category"),
        (without("subject"), "subject"),
        (without("description"), "description"),
        (without("channel"), "channel"),
        (without("severity"), "severity"),
        (intake(category="weather"), "category"),
        (intake(channel="carrier_pigeon"), "channel"),
        (intake(severity="urgent"), "severity"),
        (intake(expected_remedy="money"), "expected_remedy"),
        (intake(customer={"id": "C", "name": "N", "phone": "1", "tier": "gold"}), "customer.tier"),
        (intake(subject="x" * 201), "subject"),
        (intake(description="x" * 20_001), "description"),
        (intake(occurred_at="yesterday"), "occurred_at"),
        (intake(occurred_at="2026-11-20T10:00:00"), "occurred_at"),
        (intake(occurred_at="2999-01-01T00:00:00+00:00"), "occurred_at"),
        (intake(received_at="2999-01-01T00:00:00+00:00"), "received_at"),
        (intake(attachments=[{"name": "a", "sha256": "nothex"}]), "attachments.0.sha256"),
        (intake(surprise="field"), "surprise"),
    ],
)
def test_invalid_intake_is_422_naming_the_field(
    client: TestClient, app: ComplaintsApp, body: dict[str, Any], field: str
) -> None:
    before = head(app)
    r = client.post("/complaints", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 422 and problem["type"].endswith("/validation")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert head(app) == before


def test_malformed_json_is_400(client: TestClient, app: ComplaintsApp) -> None:
    before = head(app)
    r = client.post(
        "/complaints", content=b'{"customer": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert head(app) == before


def test_oversized_body_is_413(client: TestClient, app: ComplaintsApp) -> None:
    before = head(app)
    r = client.post("/complaints", json=intake(description="x" * 1_100_000))
    assert r.status_code == 413
    assert head(app) == before


@pytest.mark.parametrize(
    ("step", "body", "field"),
    [
        ("assign", {}, "assignee"),
        ("comments", {"body": "hi", "visibility": "public"}, "visibility"),
        ("comments", {"body": "x" * 20_001}, "body"),
        ("escalate", {"reason": "x", "level": 0}, "level"),
        ("escalate", {}, "reason"),
        ("close", {"resolution_code": "fixed", "summary": "s"}, "resolution_code"),
        ("close", {"resolution_code": "resolved"}, "summary"),
        ("reopen", {"reason": ""}, "reason"),
    ],
)
def test_invalid_command_bodies_are_422(
    client: TestClient, app: ComplaintsApp, step: str, body: dict[str, Any], field: str
) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    before = head(app)
    r = client.post(f"/complaints/{cid}/{step}", json=body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert head(app) == before


@pytest.mark.parametrize("as_of", ["not-a-date", "2026-13-45T00:00:00Z", "2026-11-20T10:00:00"])
def test_bad_as_of_is_422(client: TestClient, as_of: str) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    r = client.get(f"/complaints/{cid}", params={"as_of": as_of})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"


@pytest.mark.parametrize(
    "path",
    [
        "/complaints/00000000-0000-0000-0000-000000000000",
        "/complaints/not-a-uuid",
        "/complaints/00000000-0000-0000-0000-000000000000/history",
    ],
)
def test_unknown_complaints_are_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_commands_on_unknown_complaints_are_404_and_write_nothing(
    client: TestClient, app: ComplaintsApp
) -> None:
    before = head(app)
    r = client.post(
        "/complaints/00000000-0000-0000-0000-000000000000/assign", json={"assignee": "bob"}
    )
    assert r.status_code == 404
    assert head(app) == before


def test_requests_without_a_valid_token_are_401(
    client: TestClient, app: ComplaintsApp, ctx: Any
) -> None:
    anonymous = {"Authorization": ""}
    assert client.get("/complaints/x", headers=anonymous).status_code == 401
    assert client.post("/complaints", json=intake(), headers=anonymous).status_code == 401
    r = client.get("/complaints/x", headers={"Authorization": "Bearer clt_wrong"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    issued = app.tokens.issue("eve", "agent", ctx)
    good = {"Authorization": f"Bearer {issued.secret}"}
    assert client.post("/complaints", json=intake(), headers=good).status_code == 201
    app.tokens.revoke(str(issued.token_id), ctx)
    assert client.post("/complaints", json=intake(), headers=good).status_code == 401
