"""End to end over HTTP, in real time, on SQLite and PostgreSQL: with PT3S targets on ``24x7``,
the projections and the deadline watcher running as ``complaints serve`` runs them, a complaint
filed and left alone is breached within 2 s of its due instant, with ``breached_at`` the due
instant, and escalated by an event caused by the breach."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aggregates.business_time import Target
from aggregates.sla_policy import Conditions, Policy, Rule
from commands.sla_clocks import BuiltInSlaTerms
from infra.bootstrap import Services
from tests.intake import intake
from tests.waiting import eventually

THREE_SECONDS = Policy(
    version=1,
    rules=(Rule("fast", Conditions(), "24x7", Target.parse("PT3S"), Target.parse("PT3S")),),
)


@pytest.fixture
def running(services: Services) -> Iterator[Services]:
    services.app.sla_terms = BuiltInSlaTerms(THREE_SECONDS)
    services.start_in_background(projections=True, webhooks=False, sla_watcher=True)
    yield services


def events_of(client: TestClient, complaint_id: str) -> list[dict[str, Any]]:
    page = client.get("/events", params={"aggregate_id": complaint_id, "limit": 100})
    assert page.status_code == 200, page.text
    return page.json()["events"]  # type: ignore[no-any-return]


def test_a_breach_within_two_seconds_of_the_due_and_an_escalation_caused_by_it(
    running: Services, client: TestClient
) -> None:
    received = datetime.now(UTC).replace(microsecond=0)
    filed = client.post("/complaints", json=intake(received_at=received.isoformat()))
    assert filed.status_code == 201, filed.text
    body = filed.json()
    due = datetime.fromisoformat(body["sla"]["first_response"]["due_at"])
    assert (due - received).total_seconds() == 3

    def breached() -> list[dict[str, Any]]:
        return [e for e in events_of(client, body["id"]) if e["type"] == "complaint.sla_breached"]

    assert eventually(lambda: len(breached()) == 2, 10)
    time.sleep(1.5)  # anything more the watcher would (wrongly) record
    events = events_of(client, body["id"])
    breaches = [e for e in events if e["type"] == "complaint.sla_breached"]
    escalations = [e for e in events if e["type"] == "complaint.escalated"]
    assert sorted(b["data"]["metric"] for b in breaches) == ["first_response", "resolution"]
    for breach in breaches:
        assert datetime.fromisoformat(breach["data"]["breached_at"]) == due
        recorded_at = datetime.fromisoformat(breach["time"])
        assert 0 <= (recorded_at - due).total_seconds() < 2, (recorded_at, due)
        assert breach["actor"] == "sla-watcher"
    [escalated] = escalations  # both breached at once: straight to the higher level
    assert escalated["data"]["level"] == 2 and escalated["actor"] == "sla-watcher"
    resolution = next(b for b in breaches if b["data"]["metric"] == "resolution")
    assert escalated["causationid"] == resolution["id"]
    shown = client.get(f"/complaints/{body['id']}").json()
    assert shown["escalation_level"] == 2
    assert shown["sla"]["first_response"]["state"] == "breached"


def policy(first_response: str, resolution: str) -> Policy:
    rule = Rule("timed", Conditions(), "24x7", Target.parse(first_response),
                Target.parse(resolution))
    return Policy(version=1, rules=(rule,))


def watching(services: Services, terms: Policy) -> None:
    services.app.sla_terms = BuiltInSlaTerms(terms)
    services.start_in_background(projections=True, webhooks=False, sla_watcher=True)


def sla_records(client: TestClient, complaint_id: str) -> list[str]:
    return [e["type"] for e in events_of(client, complaint_id)
            if e["type"] in {"complaint.sla_breached", "complaint.escalated"}]


def test_a_customer_visible_reply_before_the_due_meets_it_and_nothing_breaches(
    services: Services, client: TestClient
) -> None:
    watching(services, policy("PT3S", "P1D"))
    filed = client.post("/complaints", json=intake()).json()
    reply = {"body": "We are on it", "visibility": "customer"}
    assert client.post(f"/complaints/{filed['id']}/comments", json=reply).status_code == 200

    time.sleep(4.5)  # past the due instant, with the watcher's margin

    shown = client.get(f"/complaints/{filed['id']}").json()["sla"]["first_response"]
    assert shown["state"] == "met" and shown["met_at"] is not None
    assert sla_records(client, filed["id"]) == []


def test_a_paused_complaint_does_not_breach_while_paused_and_its_due_moves(
    services: Services, client: TestClient
) -> None:
    watching(services, policy("P1D", "PT3S"))
    filed = client.post("/complaints", json=intake()).json()
    due = datetime.fromisoformat(filed["sla"]["resolution"]["due_at"])
    waiting = client.post(f"/complaints/{filed['id']}/await-customer", json={"reason": "photo"})
    assert waiting.status_code == 200, waiting.text

    time.sleep(4.5)

    assert sla_records(client, filed["id"]) == []
    paused = client.get(f"/complaints/{filed['id']}").json()["sla"]["resolution"]
    assert paused["state"] == "paused"
    answer = {"body": "here it is", "channel": "email"}
    resumed = client.post(f"/complaints/{filed['id']}/customer-replies", json=answer)
    assert resumed.status_code == 200, resumed.text
    moved = datetime.fromisoformat(resumed.json()["sla"]["resolution"]["due_at"])
    assert (moved - due).total_seconds() >= 4  # by the paused time
