"""End-to-end over HTTP: a complaint's whole life, its history, and its state at a past moment."""

from __future__ import annotations

import time
from datetime import datetime

from fastapi.testclient import TestClient

from tests.intake import intake


def test_file_assign_comment_escalate_close_reopen_then_history_and_as_of(
    client: TestClient,
) -> None:
    created = client.post("/complaints", json=intake(), headers={"X-Correlation-ID": "corr-42"})
    assert created.status_code == 201, created.text
    complaint = created.json()
    cid = complaint["id"]
    assert created.headers["Location"] == f"/complaints/{cid}"
    assert created.headers["ETag"] == '"1"'
    assert complaint["status"] == "new" and complaint["version"] == 1
    assert complaint["reference"].startswith("C-") and complaint["position"] >= 1
    assert complaint["received_by"] == "alice"  # defaults to the caller

    steps = [
        ("assign", {"assignee": "bob", "team": "east", "reason": "region"}),
        ("comments", {"body": "We are looking into it", "visibility": "customer"}),
        ("escalate", {"reason": "VIP customer, media threat", "level": 2}),
        ("close", {"resolution_code": "remedy_provided", "summary": "Phone exchanged"}),
        ("reopen", {"reason": "Replacement also cracked"}),
    ]
    positions = [complaint["position"]]
    for step, body in steps:
        time.sleep(0.01)  # keep event timestamps apart so "as of" lands between two of them
        r = client.post(f"/complaints/{cid}/{step}", json=body)
        assert r.status_code == 200, (step, r.text)
        assert r.headers["ETag"] == f'"{r.json()["version"]}"'
        positions.append(r.json()["position"])
    assert positions == sorted(positions) and len(set(positions)) == 6

    final = client.get(f"/complaints/{cid}").json()
    assert (final["status"], final["assignee"], final["team"]) == ("assigned", "bob", "east")
    assert (final["escalation_level"], final["reopen_count"], final["version"]) == (2, 1, 6)
    assert final["resolution_code"] is None and final["first_response_at"] is not None

    history = client.get(f"/complaints/{cid}/history").json()
    assert history["complaint_id"] == cid
    events = history["events"]
    assert [e["type"] for e in events] == [
        "filed",
        "assigned",
        "commented",
        "escalated",
        "closed",
        "reopened",
    ]
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert {e["actor"] for e in events} == {"alice"}
    assert events[0]["correlation_id"] == "corr-42"
    assert events[3]["data"] == {"level": 2, "reason": "VIP customer, media threat"}
    assert events[4]["data"]["resolution_code"] == "remedy_provided"
    for e in events:
        assert datetime.fromisoformat(e["occurred_at"]).utcoffset() is not None

    # Between "escalated" (v4) and "closed" (v5): escalated, not yet closed.
    t4 = datetime.fromisoformat(events[3]["occurred_at"])
    t5 = datetime.fromisoformat(events[4]["occurred_at"])
    between = (t4 + (t5 - t4) / 2).isoformat()
    past = client.get(f"/complaints/{cid}", params={"as_of": between})
    assert past.status_code == 200, past.text
    assert past.json()["version"] == 4 and past.headers["ETag"] == '"4"'
    assert (past.json()["status"], past.json()["escalation_level"]) == ("assigned", 2)
    assert past.json()["closed_at"] is None and past.json()["position"] == positions[3]

    # Exactly at an event's timestamp that event is included.
    assert (
        client.get(f"/complaints/{cid}", params={"as_of": events[4]["occurred_at"]}).json()[
            "status"
        ]
        == "closed"
    )

    before = datetime.fromisoformat(events[0]["occurred_at"]).replace(year=2000).isoformat()
    gone = client.get(f"/complaints/{cid}", params={"as_of": before})
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
    assert client.get(f"/complaints/{cid}").json()["version"] == 2


def test_openapi_documents_the_intake_with_an_example(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schema = spec["components"]["schemas"]["FileComplaint"]
    assert schema["examples"][0]["customer"]["id"] == "CUST-1001"
    assert client.get("/docs").status_code == 200
