"""SLA clocks over HTTP (SQLite and PostgreSQL): the "sla" block of a complaint, live and as of a
moment; waiting for the customer and the customer's reply; a supervisor's re-apply."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aggregates.business_time import Target
from aggregates.sla_policy import Conditions, Policy, Rule
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.sla_clocks import BuiltInSlaTerms
from projections.registry import build
from projections.runner import BackgroundRunner, Runner
from tests.intake import intake
from tests.manual_clock import Clock

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def clock(app: ComplaintsApp) -> Clock:
    return Clock.installed(app, RECEIVED)


def file(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = intake(received_at=RECEIVED.isoformat(), **overrides)
    response = client.post("/complaints", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_filed_complaint_answers_with_its_sla_clocks(client: TestClient, clock: Clock) -> None:
    clock.now = RECEIVED + HOUR
    filed = file(client)
    assert filed["version"] == 2  # Filed and SlaApplied, one save
    sla = filed["sla"]
    assert (sla["policy_version"], sla["rule"], sla["calendar"]) == (0, "default", "24x7")
    first = sla["first_response"]
    assert instant(first["due_at"]) == RECEIVED + 4 * HOUR
    assert (first["target"], first["state"], first["remaining_seconds"]) == ("PT4H", "running",
                                                                             3 * 3600)
    assert (first["met_at"], first["breached_at"]) == (None, None)
    assert sla["resolution"]["target"] == "P3D" and sla["resolution"]["cycle"] == 1


def test_the_sla_block_is_read_against_the_clock(client: TestClient, clock: Clock) -> None:
    filed = file(client)
    clock.now = RECEIVED + 3.5 * HOUR
    assert client.get(f"/complaints/{filed['id']}").json()["sla"]["first_response"]["state"] == (
        "at_risk"
    )
    clock.now = RECEIVED + 4 * HOUR
    first = client.get(f"/complaints/{filed['id']}").json()["sla"]["first_response"]
    assert (first["state"], instant(first["breached_at"]), first["remaining_seconds"]) == (
        "breached", RECEIVED + 4 * HOUR, 0,
    )


def test_an_as_of_read_shows_the_clocks_as_they_stood_then(client: TestClient) -> None:
    filed = client.post("/complaints", json=intake()).json()
    received = instant(filed["received_at"])
    first_due = instant(filed["sla"]["first_response"]["due_at"])
    assert first_due == received + 4 * HOUR
    for as_of, state in [(received + HOUR, "running"), (received + 5 * HOUR, "breached")]:
        answer = client.get(f"/complaints/{filed['id']}", params={"as_of": as_of.isoformat()})
        assert answer.status_code == 200, answer.text
        assert answer.json()["sla"]["first_response"]["state"] == state


def test_a_customer_visible_reply_meets_first_response(client: TestClient) -> None:
    filed = client.post("/complaints", json=intake()).json()
    answer = client.post(
        f"/complaints/{filed['id']}/comments", json={"body": "On it", "visibility": "customer"}
    ).json()
    first = answer["sla"]["first_response"]
    assert first["state"] == "met" and first["met_at"] == answer["first_response_at"]
    assert first["remaining_seconds"] is None


def test_waiting_for_the_customer_pauses_and_the_reply_moves_the_due(
    client: TestClient, clock: Clock
) -> None:
    filed = file(client)
    due = instant(filed["sla"]["resolution"]["due_at"])
    clock.now = RECEIVED + 2 * HOUR
    waiting = client.post(
        f"/complaints/{filed['id']}/await-customer", json={"reason": "Need the order photo"},
        headers={"If-Match": '"2"'},
    )
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["status"] == "pending_customer"
    assert waiting.json()["sla"]["resolution"]["state"] == "paused"
    clock.now = RECEIVED + 7 * HOUR
    replied = client.post(
        f"/complaints/{filed['id']}/customer-replies",
        json={"body": "Photo attached", "channel": "email"},
    )
    assert replied.status_code == 200, replied.text
    body = replied.json()
    assert body["status"] == "new"
    assert instant(body["sla"]["resolution"]["due_at"]) == due + 5 * HOUR
    assert body["sla"]["resolution"]["state"] == "running"
    types = [e["type"] for e in client.get(f"/complaints/{filed['id']}/history").json()["events"]]
    assert types == ["filed", "sla_applied", "customer_awaited", "customer_replied"]


def test_a_reply_when_nobody_waits_is_a_conflict(client: TestClient) -> None:
    filed = client.post("/complaints", json=intake()).json()
    answer = client.post(
        f"/complaints/{filed['id']}/customer-replies", json={"body": "hi", "channel": "web"}
    )
    assert answer.status_code == 409
    assert "not waiting" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("await-customer", {}, "reason"),
        ("await-customer", {"reason": "  "}, "reason"),
        ("customer-replies", {"body": "hi", "channel": "pigeon"}, "channel"),
        ("customer-replies", {"channel": "web"}, "body"),
        ("sla/reapply", {"reason": ""}, "reason"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    client: TestClient, action: str, body: dict[str, Any], field: str
) -> None:
    filed = client.post("/complaints", json=intake()).json()
    answer = client.post(f"/complaints/{filed['id']}/{action}", json=body)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert client.get(f"/complaints/{filed['id']}").json()["version"] == 2


@pytest.fixture
def supervisor_token(app: ComplaintsApp, ctx: CommandContext) -> str:
    return app.tokens.issue("sam", "supervisor", ctx).secret


def test_a_supervisor_reapplies_the_current_policy_with_a_reason(
    client: TestClient, app: ComplaintsApp, supervisor_token: str
) -> None:
    filed = client.post("/complaints", json=intake()).json()
    app.sla_terms = BuiltInSlaTerms(
        Policy(2, (Rule("fast", Conditions(), "24x7", Target.parse("PT30M"),
                        Target.parse("P1D")),))
    )
    answer = client.post(
        f"/complaints/{filed['id']}/sla/reapply", json={"reason": "Key account"},
        headers={"Authorization": f"Bearer {supervisor_token}"},
    )
    assert answer.status_code == 200, answer.text
    sla = answer.json()["sla"]
    assert (sla["policy_version"], sla["rule"], sla["first_response"]["target"]) == (
        2, "fast", "PT30M"
    )
    last = client.get(f"/complaints/{filed['id']}/history").json()["events"][-1]
    assert (last["type"], last["actor"], last["data"]["reason"]) == (
        "sla_applied", "sam", "Key account"
    )


def test_an_agent_may_not_reapply(client: TestClient, agent_token: str) -> None:
    filed = client.post("/complaints", json=intake()).json()
    answer = client.post(
        f"/complaints/{filed['id']}/sla/reapply", json={"reason": "please"},
        headers={"Authorization": f"Bearer {agent_token}"},
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/complaints/{filed['id']}").json()["version"] == 2


@pytest.fixture
def projections(app: ComplaintsApp) -> Iterator[BackgroundRunner]:
    with BackgroundRunner(Runner(app, build(), poll_seconds=0.02)) as running:
        yield running


def test_lists_and_workload_count_a_waiting_complaint_as_open(
    client: TestClient, projections: BackgroundRunner
) -> None:
    filed = client.post("/complaints", json=intake()).json()
    client.post(f"/complaints/{filed['id']}/assign", json={"assignee": "bob", "team": "east"})
    waiting = client.post(
        f"/complaints/{filed['id']}/await-customer", json={"reason": "photo"}
    ).json()
    page = client.get(
        "/complaints", params={"status": "pending_customer", "min_position": waiting["position"]}
    ).json()
    assert [i["id"] for i in page["items"]] == [filed["id"]]
    load = client.get("/workload", params={"min_position": waiting["position"]}).json()
    assert load["agents"][0]["open"] == 1
    replied = client.post(
        f"/complaints/{filed['id']}/customer-replies", json={"body": "ok", "channel": "phone"}
    ).json()
    page = client.get(
        "/complaints", params={"status": "assigned", "min_position": replied["position"]}
    ).json()
    assert [i["id"] for i in page["items"]] == [filed["id"]]


def test_clock_events_are_on_the_event_stream(client: TestClient) -> None:
    filed = client.post("/complaints", json=intake()).json()
    client.post(f"/complaints/{filed['id']}/await-customer", json={"reason": "photo"})
    page = client.get(
        "/events", params={"after": 0, "types": "complaint.sla_applied,complaint.customer_awaited"}
    ).json()
    assert [e["type"] for e in page["events"]] == [
        "complaint.sla_applied", "complaint.customer_awaited"
    ]
    published = page["events"][0]["data"]["first_response_due_at"]
    assert instant(published) == instant(filed["sla"]["first_response"]["due_at"])


@pytest.mark.parametrize(
    ("action", "model"),
    [
        ("await-customer", "AwaitCustomer"),
        ("customer-replies", "RecordCustomerReply"),
        ("sla/reapply", "ReapplySla"),
    ],
)
def test_the_routes_document_their_body_and_problems(
    client: TestClient, action: str, model: str
) -> None:
    operation = client.get("/openapi.json").json()["paths"][
        f"/complaints/{{complaint_id}}/{action}"
    ]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{model}"
    }
    documented = set(operation["responses"])
    assert {"400", "401", "403", "404", "409", "412", "422"} <= documented
