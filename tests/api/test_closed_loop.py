"""Issue 12, the closed loop over HTTP on both stores: remedies with approval limits, the
customer's tracking page (what it shows and never shows, wrong codes, the rate limit), the
satisfaction survey, and CSAT/NPS in the analytics summary."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient

from aggregates.money import Money
from aggregates.provenance import Provenance
from aggregates.vocabulary import Role
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.directory_lookup import AgentProfile, TeamProfile
from projections.registry import build
from projections.runner import Runner
from tests.intake import intake

AGENT, BOSS = "agent-ann-7", "boss-sue-9"


class Directory:
    """A small directory: the agent may grant 100 CNY alone, the supervisor 1000."""

    def __init__(self) -> None:
        self.agents = {
            AGENT: AgentProfile(AGENT, "Ann", "east", approval_limit=Money.of("100", "CNY")),
            BOSS: AgentProfile(BOSS, "Sue", "east", approval_limit=Money.of("1000", "CNY")),
        }

    def team(self, team_id: str) -> TeamProfile | None:
        return None

    def agent(self, agent_id: str) -> AgentProfile | None:
        return self.agents.get(agent_id)

    def members(self, team_id: str) -> Sequence[AgentProfile]:
        return ()


def bearer(app: ComplaintsApp, ctx: CommandContext, name: str, role: Role) -> dict[str, str]:
    secret = app.tokens.issue(name, role.value, ctx, teams=("east",)).secret
    return {"Authorization": f"Bearer {secret}"}


def code_header(code: str) -> dict[str, str]:
    return {"X-Access-Code": code}


def file_and_assign(client: TestClient, agent: dict[str, str], boss: dict[str, str]) -> Any:
    filed = client.post("/complaints", json=intake(), headers=agent)
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assigned = client.post(
        f"/complaints/{complaint['id']}/assign",
        json={"assignee": AGENT, "team": "east"},
        headers=boss,
    )
    assert assigned.status_code == 200, assigned.text
    return complaint


def test_the_full_loop_over_http(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    app.directory = Directory()
    agent = bearer(app, ctx, AGENT, Role.AGENT)
    boss = bearer(app, ctx, BOSS, Role.SUPERVISOR)
    stranger = bearer(app, ctx, "boss-without-entry", Role.SUPERVISOR)

    # The access code is in the filing's answer, and nowhere after (nor in a replay).
    keyed = {**agent, "Idempotency-Key": "file-1"}
    filed = client.post("/complaints", json=intake(), headers=keyed)
    assert filed.status_code == 201, filed.text
    complaint, code = filed.json(), filed.json()["access_code"]
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    cid, ref = complaint["id"], complaint["reference"]
    replay = client.post("/complaints", json=intake(), headers=keyed)
    assert replay.json()["id"] == cid and replay.json()["access_code"] is None
    client.post(f"/complaints/{cid}/assign", json={"assignee": AGENT, "team": "east"}, headers=boss)
    assert code not in client.get(f"/complaints/{cid}", headers=boss).text
    assert code not in client.get(f"/complaints/{cid}/history", headers=boss).text

    # Above the agent's limit: approval, by someone else whose limit covers it.
    proposed = client.post(
        f"/complaints/{cid}/remedies",
        json={"kind": "refund", "amount": "500.00", "currency": "CNY", "description": "Refund"},
        headers=agent,
    )
    assert proposed.status_code == 201, proposed.text
    first = proposed.json()
    assert (first["status"], first["amount"], first["currency"]) == (
        "awaiting_approval", "500.00", "CNY",
    )
    assert proposed.headers["Location"] == f"/complaints/{cid}/remedies/{first['id']}"
    approve = f"/complaints/{cid}/remedies/{first['id']}/approve"
    assert client.post(approve, headers=agent).status_code == 403  # not an agent's action
    assert client.post(approve, headers=stranger).status_code == 409  # no limit in the directory
    approved = client.post(approve, headers=boss)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == BOSS
    shown = client.get(f"/complaints/{cid}", headers=boss).json()["remedies"]
    assert [r["status"] for r in shown] == ["approved"]

    # The customer declines it on the tracking page, then accepts one within the agent's limit.
    declined = client.post(
        f"/track/{ref}/remedies/{first['id']}/decline",
        json={"reason": "I want an exchange"},
        headers=code_header(code),
    )
    assert declined.status_code == 200, declined.text
    assert [r["status"] for r in declined.json()["remedies"]] == ["declined"]
    second = client.post(
        f"/complaints/{cid}/remedies",
        json={"kind": "exchange", "amount": "80", "currency": "CNY", "description": "New phone"},
        headers=agent,
    ).json()
    assert second["status"] == "proposed"
    # A form post with the code as a field, as a plain HTML page would send it.
    accepted = client.post(
        f"/track/{ref}/remedies/{second['id']}/accept", data={"access_code": code}
    )
    assert accepted.status_code == 200, accepted.text
    assert [r["status"] for r in accepted.json()["remedies"]] == ["declined", "accepted"]

    # The customer writes unprompted (once, though sent twice with one key); it shows on their
    # page. Then staff wait for an answer, and the customer's next reply ends the wait.
    keyed_reply = {**code_header(code), "Idempotency-Key": "reply-1"}
    for _ in range(2):
        replied = client.post(
            f"/track/{ref}/replies", json={"body": "Thanks!"}, headers=keyed_reply
        )
        assert replied.status_code == 200, replied.text
    assert [r["body"] for r in replied.json()["replies"]] == ["Thanks!"]
    assert replied.json()["status"] == "assigned"
    waiting = client.post(
        f"/complaints/{cid}/await-customer", json={"reason": "IMEI?"}, headers=agent
    )
    assert waiting.json()["status"] == "pending_customer"
    answered_wait = client.post(
        f"/track/{ref}/replies", json={"body": "IMEI 123"}, headers=code_header(code)
    )
    assert answered_wait.json()["status"] == "assigned"
    resolution = client.get(f"/complaints/{cid}", headers=boss).json()["sla"]["resolution"]
    assert resolution["state"] != "paused"

    # remedy_provided only once the accepted remedy is fulfilled.
    close = {"resolution_code": "remedy_provided", "summary": "Exchanged"}
    refused = client.post(f"/complaints/{cid}/close", json=close, headers=agent)
    assert refused.status_code == 409 and "fulfil" in refused.json()["detail"]
    fulfilled = client.post(
        f"/complaints/{cid}/remedies/{second['id']}/fulfil", json={"note": "Shipped"}, headers=agent
    )
    assert fulfilled.status_code == 200 and fulfilled.json()["status"] == "fulfilled"
    assert client.post(f"/complaints/{cid}/close", json=close, headers=agent).status_code == 200
    closed_reply = client.post(
        f"/track/{ref}/replies", json={"body": "more"}, headers=code_header(code)
    )
    assert closed_reply.status_code == 409

    # The survey: its token travels in the SurveyRequested event; answered once.
    history = client.get(f"/complaints/{cid}/history", headers=boss).json()["events"]
    (requested,) = [e for e in history if e["type"] == "survey_requested"]
    token = requested["data"]["token"]
    assert client.get(f"/track/{ref}", headers=code_header(code)).json()["survey_open"] is True
    answer = {"csat": 5, "nps": 10, "comment": "Great"}
    answered = client.post(f"/surveys/{token}", json=answer)
    assert answered.status_code == 201, answered.text
    assert client.post(f"/surveys/{token}", json=answer).status_code == 409
    assert client.post("/surveys/not-a-token", json=answer).status_code == 404
    assert client.get(f"/track/{ref}", headers=code_header(code)).json()["survey_open"] is False
    types = [e["type"] for e in history]
    assert types.count("remedy_proposed") == 2 and "approval_requested" in types
    assert {"remedy_approved", "customer_declined", "customer_accepted"} <= set(types)

    # CSAT and NPS in the analytics summary, per group and in total.
    Runner(app, build()).catch_up()
    summary = client.get("/analytics/summary", params={"group_by": "category"}).json()
    (group,) = summary["groups"]
    for figures in (group, summary["totals"]):
        assert figures["survey_responses"] == 1
        assert figures["mean_csat"] == 5.0
        assert figures["csat_satisfied_percent"] == 100.0
        assert figures["nps"] == 100.0


def test_the_tracking_page_shows_nothing_internal(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    agent = bearer(app, ctx, AGENT, Role.AGENT)
    boss = bearer(app, ctx, BOSS, Role.SUPERVISOR)
    body = intake(
        customer={**intake()["customer"], "phone": "13912345678", "email": "leak@example.org"}
    )
    filed = client.post("/complaints", json=body, headers=agent).json()
    cid, ref, code = filed["id"], filed["reference"], filed["access_code"]
    other = client.post("/complaints", json=intake(), headers=agent).json()
    client.post(f"/complaints/{cid}/assign", json={"assignee": AGENT, "team": "east"}, headers=boss)
    comments = [
        {"body": "INTERNAL-NOTE-4711 do not tell", "visibility": "internal"},
        {"body": "We are on it", "visibility": "customer"},
    ]
    for comment in comments:
        client.post(f"/complaints/{cid}/comments", json=comment, headers=agent)
    client.post(f"/complaints/{cid}/escalate", json={"reason": "ESCALATION-0815"}, headers=boss)
    complaint = app.get_complaint(app.resolve_reference(ref))
    complaint.tag("legal-risk-xyz", by=Provenance(AGENT, "corr-tag"))
    app.save(complaint)
    client.post(  # awaiting approval: internal deliberation, not shown
        f"/complaints/{cid}/remedies",
        json={"kind": "refund", "amount": "900", "currency": "CNY", "description": "Refund"},
        headers=agent,
    )

    page = client.get(f"/track/{ref}", headers=code_header(code))
    assert page.status_code == 200, page.text
    shown = page.json()
    assert set(shown) == {
        "reference", "status", "category", "subject", "filed_at", "closed_at",
        "resolution_due_at", "comments", "replies", "remedies", "survey_open",
    }
    assert shown["comments"] == [
        {"body": "We are on it", "author": "Customer service",
         "created_at": shown["comments"][0]["created_at"]}
    ]
    assert shown["remedies"] == [] and shown["resolution_due_at"] is not None
    for secret in (
        "INTERNAL-NOTE-4711", "legal-risk-xyz", AGENT, BOSS, "east", "ESCALATION-0815",
        "13912345678", "leak@example.org", "CUST-1001", body["customer"]["name"],
        body["description"], cid, other["id"], other["reference"], "escalation", "tags",
        "assignee", "team",
    ):
        assert secret not in page.text, secret


def test_a_wrong_code_is_an_unknown_reference_and_repeated_ones_are_throttled(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    agent = bearer(app, ctx, AGENT, Role.AGENT)
    filed = client.post("/complaints", json=intake(), headers=agent).json()
    ref, code = filed["reference"], filed["access_code"]

    def without_instance(answer: Any) -> dict[str, Any]:
        problem = dict(answer.json())
        assert problem.pop("instance") == answer.request.url.path
        return problem

    wrong = client.get(f"/track/{ref}", headers=code_header("AAAA-BBBB-CCCC-DDDD"))
    unknown = client.get("/track/C-0000-0000", headers=code_header(code))
    missing = client.get(f"/track/{ref}")
    assert wrong.status_code == unknown.status_code == missing.status_code == 404
    assert without_instance(wrong) == without_instance(unknown) == without_instance(missing)
    decline = client.post(
        f"/track/{ref}/remedies/{'0' * 32}/decline", json={"reason": "x"}, headers=code_header("x")
    )
    assert decline.status_code == 404
    assert client.get(f"/track/{ref}", headers=code_header(code)).status_code == 200

    # Four failures on this reference so far (five from this client): the next attempt, even
    # with the right code, is refused for a while.
    client.get(f"/track/{ref}", headers=code_header("nope"))
    throttled = client.get(f"/track/{ref}", headers=code_header(code))
    assert throttled.status_code == 429, throttled.text
    assert 0 < int(throttled.headers["Retry-After"]) <= 900
