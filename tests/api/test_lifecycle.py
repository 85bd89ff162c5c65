"""End-to-end over HTTP: a complaint's whole life, its history, and its state at a past moment."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.intake import intake

STEPS = [
    ("assign", {"assignee": "bob", "team": "east", "reason": "region"}),
    ("comments", {"body": "We are looking into it", "visibility": "customer"}),
    ("escalate", {"reason": "VIP customer, media threat", "level": 2}),
    ("close", {"resolution_code": "resolved", "summary": "Phone exchanged"}),
    ("reopen", {"reason": "Replacement also cracked"}),
]


@dataclass(frozen=True)
class WorkedComplaint:
    id: str
    filed: dict[str, Any]
    """The answer to the filing."""
    answers: list[Response]
    """The answers to each of STEPS, in order."""

    @property
    def positions(self) -> list[int]:
        return [self.filed["position"]] + [a.json()["position"] for a in self.answers]


@pytest.fixture
def worked(client: TestClient) -> WorkedComplaint:
    """A complaint filed (correlation id corr-42), then taken through every step of its life."""
    created = client.post("/complaints", json=intake(), headers={"X-Correlation-ID": "corr-42"})
    assert created.status_code == 201, created.text
    answers = []
    for step, body in STEPS:
        time.sleep(0.01)  # keep event timestamps apart so "as of" lands between two of them
        answers.append(client.post(f"/complaints/{created.json()['id']}/{step}", json=body))
    return WorkedComplaint(created.json()["id"], created.json(), answers)


def history_of(client: TestClient, complaint: WorkedComplaint) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get(f"/complaints/{complaint.id}/history").json()[
        "events"
    ]
    return events


def test_filing_answers_201_with_location_etag_and_reference(client: TestClient) -> None:
    created = client.post("/complaints", json=intake())
    assert created.status_code == 201, created.text
    complaint = created.json()
    assert created.headers["Location"] == f"/complaints/{complaint['id']}"
    # Filed and SlaApplied, in one save
    assert created.headers["ETag"] == '"2"'
    assert complaint["status"] == "new" and complaint["version"] == 2
    assert complaint["reference"].startswith("C-") and complaint["position"] >= 1
    assert complaint["received_by"] == "alice"  # defaults to the caller


def test_each_step_answers_200_with_its_version_as_etag(worked: WorkedComplaint) -> None:
    for (step, _), answer in zip(STEPS, worked.answers, strict=True):
        assert answer.status_code == 200, (step, answer.text)
        assert answer.headers["ETag"] == f'"{answer.json()["version"]}"'
    assert worked.positions == sorted(worked.positions) and len(set(worked.positions)) == 6


def test_the_complaint_shows_the_end_of_its_life(
    client: TestClient, worked: WorkedComplaint
) -> None:
    final = client.get(f"/complaints/{worked.id}").json()
    assert (final["status"], final["assignee"], final["team"]) == ("assigned", "bob", "east")
    # the close also requested a survey, the reopen started the resolution clock's second cycle
    assert (final["escalation_level"], final["reopen_count"], final["version"]) == (2, 1, 9)
    assert final["resolution_code"] is None and final["first_response_at"] is not None


def test_history_lists_every_event_with_who_when_and_why(
    client: TestClient, worked: WorkedComplaint
) -> None:
    history = client.get(f"/complaints/{worked.id}/history").json()
    assert history["complaint_id"] == worked.id
    events = history["events"]
    assert [e["type"] for e in events] == [
        "filed", "sla_applied", "assigned", "commented", "escalated", "closed",
        "survey_requested", "reopened", "sla_cycle_started",
    ]
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert {e["actor"] for e in events} == {"alice"}
    assert {e["correlation_id"] for e in events[:2]} == {"corr-42"}
    assert events[4]["data"] == {"level": 2, "reason": "VIP customer, media threat", "rule": None}
    assert events[5]["data"]["resolution_code"] == "resolved"
    for e in events:
        assert datetime.fromisoformat(e["occurred_at"]).utcoffset() is not None


def test_as_of_between_two_events_shows_the_earlier_state(
    client: TestClient, worked: WorkedComplaint
) -> None:
    events = history_of(client, worked)
    # Between "escalated" (v5) and "closed" (v6): escalated, not yet closed.
    t5 = datetime.fromisoformat(events[4]["occurred_at"])
    t6 = datetime.fromisoformat(events[5]["occurred_at"])
    between = (t5 + (t6 - t5) / 2).isoformat()
    past = client.get(f"/complaints/{worked.id}", params={"as_of": between})
    assert past.status_code == 200, past.text
    assert past.json()["version"] == 5 and past.headers["ETag"] == '"5"'
    assert (past.json()["status"], past.json()["escalation_level"]) == ("assigned", 2)
    assert past.json()["closed_at"] is None and past.json()["position"] == worked.positions[3]


def test_as_of_an_event_instant_includes_that_event(
    client: TestClient, worked: WorkedComplaint
) -> None:
    closed_at = history_of(client, worked)[5]["occurred_at"]
    past = client.get(f"/complaints/{worked.id}", params={"as_of": closed_at})
    assert past.json()["status"] == "closed"


def test_as_of_before_the_filing_is_404(client: TestClient, worked: WorkedComplaint) -> None:
    filed_at = datetime.fromisoformat(history_of(client, worked)[0]["occurred_at"])
    before = filed_at.replace(year=2000).isoformat()
    gone = client.get(f"/complaints/{worked.id}", params={"as_of": before})
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


def test_reference_lookup(client: TestClient) -> None:
    complaint = client.post("/complaints", json=intake()).json()
    found = client.get(f"/complaints/by-reference/{complaint['reference'].lower()}")
    assert found.status_code == 200 and found.json()["id"] == complaint["id"]
    assert client.get("/complaints/by-reference/C-ZZZZ-ZZZZ").status_code == 404


def test_illegal_transitions_are_409_with_the_reason(client: TestClient) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    r = client.post(f"/complaints/{cid}/reopen", json={"reason": "x"})
    assert r.status_code == 409 and "only a closed" in r.json()["detail"]
    client.post(f"/complaints/{cid}/close", json={"resolution_code": "invalid", "summary": "spam"})
    for step, body in [
        ("comments", {"body": "hi", "visibility": "internal"}),
        ("escalate", {"reason": "x"}),
        ("close", {"resolution_code": "resolved", "summary": "again"}),
    ]:
        r = client.post(f"/complaints/{cid}/{step}", json=body)
        assert r.status_code == 409, step
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"]
    # filed, SLA applied, closed, survey requested
    assert client.get(f"/complaints/{cid}").json()["version"] == 4


def test_openapi_documents_the_intake_with_an_example(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schema = spec["components"]["schemas"]["FileComplaint"]
    assert schema["examples"][0]["customer"]["id"] == "CUST-1001"
    assert client.get("/docs").status_code == 200
