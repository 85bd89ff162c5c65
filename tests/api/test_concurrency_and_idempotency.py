"""If-Match, racing writers and Idempotency-Key over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from tests.intake import intake
from tests.race import race


def test_if_match_with_a_stale_version_is_412(client: TestClient) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    ok = client.post(
        f"/complaints/{cid}/assign", json={"assignee": "bob"}, headers={"If-Match": '"2"'}
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == '"3"'
    stale = client.post(
        f"/complaints/{cid}/assign", json={"assignee": "carol"}, headers={"If-Match": '"2"'}
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"3"' and stale.json()["current_version"] == 3
    bad = client.post(
        f"/complaints/{cid}/assign", json={"assignee": "carol"}, headers={"If-Match": "yesterday"}
    )
    assert bad.status_code == 400
    assert client.get(f"/complaints/{cid}").json()["assignee"] == "bob"


def test_two_writers_with_the_same_expected_version_exactly_one_wins(client: TestClient) -> None:
    for _ in range(5):
        cid = client.post("/complaints", json=intake()).json()["id"]
        responses = race(
            *(
                partial(
                    client.post,
                    f"/complaints/{cid}/assign",
                    json={"assignee": who},
                    headers={"If-Match": '"2"'},
                )
                for who in ("bob", "carol")
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses[0] == 200 and statuses[1] in {409, 412}, statuses
        history = client.get(f"/complaints/{cid}/history").json()["events"]
        assert [e["type"] for e in history] == ["filed", "sla_applied", "assigned"]


def test_same_idempotency_key_twice_gives_one_event_and_the_original_result(
    client: TestClient, app: ComplaintsApp
) -> None:
    now = datetime.now(UTC)
    app.clock = lambda: now  # the SLA clocks read at one moment: the answers compare equal
    headers = {"Idempotency-Key": "intake-7f3a"}
    first = client.post("/complaints", json=intake(), headers=headers)
    second = client.post("/complaints", json=intake(), headers=headers)
    assert first.status_code == second.status_code == 201
    # Except the customer's access code, shown once only (issue 12: only its digest is kept).
    assert first.json()["access_code"] and second.json()["access_code"] is None
    assert {**second.json(), "access_code": None} == {**first.json(), "access_code": None}
    assert second.headers["Idempotent-Replayed"] == "true"
    cid = first.json()["id"]

    key = {"Idempotency-Key": "comment-1"}
    a = client.post(f"/complaints/{cid}/comments", json={"body": "hello"}, headers=key)
    client.post(f"/complaints/{cid}/assign", json={"assignee": "bob"})
    b = client.post(f"/complaints/{cid}/comments", json={"body": "hello"}, headers=key)
    assert a.json() == b.json() and b.json()["version"] == 3  # the original result, not today's
    types = [e["type"] for e in client.get(f"/complaints/{cid}/history").json()["events"]]
    assert types == ["filed", "sla_applied", "commented", "assigned"]


def test_same_idempotency_key_with_a_different_body_is_422(client: TestClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    assert client.post("/complaints", json=intake(), headers=headers).status_code == 201
    r = client.post("/complaints", json=intake(subject="Different"), headers=headers)
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]
