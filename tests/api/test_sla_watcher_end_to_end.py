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
