"""The directory and the routing rules over HTTP on both stores (issue 12): PUT as an upsert
with versions, bad input named, a supervisor kept to their teams, and a filing routed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from aggregates.event_ids import event_id
from commands.application import ComplaintsApp
from commands.context import CommandContext
from tests.intake import intake

ANN: dict[str, Any] = {
    "display_name": "Ann Li",
    "team": "east",
    "skills": {"categories": ["logistics"], "regions": ["east"], "products": []},
    "available": True,
    "approval_limit": {"amount": "500.00", "currency": "CNY"},
}


def field_of(answer: Any) -> str:
    assert answer.status_code == 422, answer.text
    return str(answer.json()["errors"][0]["field"])


def test_teams_and_agents_are_put_read_and_listed(client: TestClient) -> None:
    created = client.put("/directory/teams/east", json={"name": "East", "supervisor": "alice"})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/directory/teams/east"
    assert created.headers["etag"] == '"1"'
    renamed = client.put("/directory/teams/east", json={"name": "East China",
                                                        "supervisor": "alice"})
    assert (renamed.status_code, renamed.json()["version"]) == (200, 2)
    client.put("/directory/teams/west", json={"name": "West"})

    first = client.put("/directory/agents/ann", json=ANN)
    assert first.status_code == 201, first.text
    same = client.put("/directory/agents/ann", json=ANN)  # identical: nothing recorded
    assert (same.status_code, same.headers["etag"]) == (200, '"1"')
    away = client.put("/directory/agents/ann", json={**ANN, "available": False,
                                                     "reason": "on leave"})
    assert (away.json()["version"], away.json()["available"]) == (2, False)
    client.put("/directory/agents/walt", json={"display_name": "Walt", "team": "west"})

    ann = client.get("/directory/agents/ann")
    assert ann.headers["etag"] == '"2"'
    body = ann.json()
    assert body["approval_limit"] == {"amount": "500.00", "currency": "CNY"}
    assert body["skills"] == {"categories": ["logistics"], "regions": ["east"], "products": [],
                              "languages": []}
    assert (body["reason"], body["changed_by"]) == ("on leave", "alice")
    assert client.get("/directory/teams/east").json()["name"] == "East China"
    assert [t["id"] for t in client.get("/directory/teams").json()["teams"]] == ["east", "west"]
    listed = client.get("/directory/agents", params={"team": "west"}).json()["agents"]
    assert [a["id"] for a in listed] == ["walt"]
    assert len(client.get("/directory/agents").json()["agents"]) == 2
    assert client.get("/directory/agents/nobody").status_code == 404
    stale = client.put("/directory/teams/east", json={"name": "E"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412


def test_bad_directory_input_is_refused_naming_the_field(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    assert field_of(client.put("/directory/agents/ann", json=ANN)) == "team"  # no such team
    client.put("/directory/teams/east", json={"name": "East"})
    bad_category = {**ANN, "skills": {"categories": ["weather"]}}
    assert field_of(client.put("/directory/agents/ann", json=bad_category)) == (
        "skills.categories.0"
    )
    bad_limit = {**ANN, "approval_limit": {"amount": "1.234", "currency": "CNY"}}
    assert field_of(client.put("/directory/agents/ann", json=bad_limit)) == (
        "approval_limit.amount"
    )
    bad_currency = {**ANN, "approval_limit": {"amount": "1", "currency": "yuan"}}
    assert field_of(client.put("/directory/agents/ann", json=bad_currency)) == (
        "approval_limit.currency"
    )
    assert field_of(client.put("/directory/teams/east", json={"name": "a\nb"})) == "name"
    # A supervisor manages only the teams their token acts for.
    sue = app.tokens.issue("sue", "supervisor", ctx, teams=["west"]).secret
    refused = client.put("/directory/agents/ann", json=ANN,
                         headers={"Authorization": f"Bearer {sue}"})
    assert refused.status_code == 403 and refused.json()["action"] == "directory.manage"


def test_routing_rules_are_versioned_checked_and_route_a_filing(client: TestClient) -> None:
    assert client.get("/routing/rules").json()["version"] == 0
    rules = {"rules": [{"name": "east-logistics",
                        "when": {"category": ["logistics"], "region": ["east"]},
                        "team": "east"}], "reason": "first"}
    assert field_of(client.put("/routing/rules", json=rules)) == "rules.0.team"
    client.put("/directory/teams/east", json={"name": "East", "supervisor": "alice"})
    client.put("/directory/agents/ann", json=ANN)
    bad = {**rules, "rules": [{**rules["rules"][0], "when": {"channel": ["pigeon"]}}]}
    assert field_of(client.put("/routing/rules", json=bad)) == "rules.0.when.channel.0"
    assert field_of(client.put("/routing/rules", json={"rules": []})) == "reason"

    put = client.put("/routing/rules", json=rules)
    assert (put.status_code, put.headers["etag"]) == (200, '"1"'), put.text
    assert put.json()["rules"][0]["when"]["tier"] == []
    assert client.put("/routing/rules", json=rules).json()["version"] == 1  # unchanged
    assert client.get("/routing/rules").json()["reason"] == "first"

    filed = client.post("/complaints", json=intake(category="logistics"))
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert (complaint["assignee"], complaint["team"]) == ("ann", "east")
    history = client.get(f"/complaints/{complaint['id']}/history").json()
    assigned = history["events"][-1]
    assert assigned["type"] == "assigned" and assigned["actor"] == "automation"
    assert assigned["data"]["rule"] == "routing/east-logistics@v1"
    assert assigned["causation_id"] == str(event_id(UUID(complaint["id"]), 1))  # Filed


def test_an_agent_id_beyond_latin_1_gets_a_percent_encoded_location(client: TestClient) -> None:
    """Found by the fuzzer: a header must be ASCII (it was a 500)."""
    client.put("/directory/teams/east", json={"name": "East", "supervisor": "li.na"})
    answer = client.put("/directory/agents/王芳\U000e3aa9", json={
        "display_name": "王芳", "team": "east"})
    assert answer.status_code == 201
    assert answer.headers["Location"] == "/directory/agents/%E7%8E%8B%E8%8A%B3%F3%A3%AA%A9"
    got = client.get(answer.headers["Location"])
    assert got.json()["id"] == "王芳\U000e3aa9", got.text
