"""The read side over HTTP: read-your-writes, list filters, cursors, workload, summary, status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from infra.settings import Settings
from projections.registry import build
from projections.runner import BackgroundRunner, Runner
from tests.intake import intake


@pytest.fixture
def projections(app: ComplaintsApp, settings: Settings) -> Iterator[BackgroundRunner]:
    with BackgroundRunner(Runner(app, build(settings), poll_seconds=0.02)) as running:
        yield running


def test_a_query_right_after_a_command_sees_its_effect(
    client: TestClient, projections: BackgroundRunner
) -> None:
    for _ in range(3):
        filed = client.post("/complaints", json=intake(subject="Zebra stripes faded")).json()
        assigned = client.post(
            f"/complaints/{filed['id']}/assign", json={"assignee": "bob", "team": "t1"}
        ).json()
        page = client.get("/complaints", params={"min_position": assigned["position"]}).json()
        mine = next(i for i in page["items"] if i["id"] == filed["id"])
        assert (mine["assignee"], mine["status"]) == ("bob", "assigned")
        load = client.get("/workload", params={"min_position": assigned["position"]}).json()
        assert load["agents"][0]["assignee"] == "bob"


def test_a_view_that_cannot_catch_up_in_time_answers_503(client: TestClient) -> None:
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"read_wait_seconds": 0.1}
    )
    filed = client.post("/complaints", json=intake()).json()  # no projection runs here
    response = client.get("/complaints", params={"min_position": filed["position"]})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.headers["content-type"].startswith("application/problem+json")


def test_list_filters_search_and_pages_with_a_cursor(
    client: TestClient, projections: BackgroundRunner
) -> None:
    last = 0
    for i in range(5):
        body = intake(severity="high" if i % 2 else "low", subject=f"Case {i}")
        if i == 3:
            body["description"] = "A zebra ate the parcel"
        last = client.post("/complaints", json=body).json()["position"]
    listed = client.get("/complaints", params={"min_position": last, "limit": 2}).json()
    assert len(listed["items"]) == 2 and listed["next_cursor"]
    seen = [i["subject"] for i in listed["items"]]
    while listed["next_cursor"]:
        listed = client.get(
            "/complaints", params={"limit": 2, "cursor": listed["next_cursor"]}
        ).json()
        seen += [i["subject"] for i in listed["items"]]
    assert seen == [f"Case {i}" for i in reversed(range(5))]  # newest first, no repeats
    high = client.get("/complaints", params={"severity": "high", "channel": "web"}).json()
    assert sorted(i["subject"] for i in high["items"]) == ["Case 1", "Case 3"]
    found = client.get("/complaints", params={"q": "zebra"}).json()
    assert [i["subject"] for i in found["items"]] == ["Case 3"]
    assert found["items"][0]["customer"] == {"id": "CUST-1001", "name": "张伟", "tier": "vip"}


def test_bad_list_parameters_are_named(client: TestClient) -> None:
    bad = client.get("/complaints", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    bad = client.get("/complaints", params={"severity": "apocalyptic"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "severity"
    bad = client.get("/analytics/summary", params={"from": "2025-02-01", "to": "2025-01-01"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to"


def test_summary_and_status(client: TestClient, projections: BackgroundRunner) -> None:
    filed = client.post(
        "/complaints",
        json=intake(
            received_at="2025-06-01T12:00:00+00:00", occurred_at="2025-05-30T09:00:00+00:00"
        ),
    ).json()
    summary = client.get(
        "/analytics/summary",
        params={"from": "2025-06-01", "to": "2025-06-30", "group_by": "week",
                "min_position": filed["position"]},
    ).json()
    assert summary["from"] == "2025-06-01" and summary["group_by"] == "week"
    assert summary["groups"] == [
        {"key": "2025-W22", "filed": 1, "closed": 0, "reopened": 0,
         "mean_first_response_seconds": None, "mean_resolution_seconds": None,
         "first_contact_resolution_rate": None, "reopen_rate": None}
    ]
    status = client.get("/projections").json()
    assert {p["name"] for p in status["projections"]} == {"complaints", "workload", "analytics"}
    assert all(p["position"] <= status["head"] for p in status["projections"])


def test_search_finds_chinese_substrings_and_every_term_on_both_stores(
    client: TestClient, projections: BackgroundRunner
) -> None:
    bodies = [
        intake(subject="屏幕破裂", description="收到货时手机屏幕已经破裂，要求换货"),
        intake(subject="Screen CRACKED", description="Arrived broken, 100% unusable"),
        intake(subject="Late parcel", description="Courier lost the box"),
    ]
    last = 0
    for body in bodies:
        last = client.post("/complaints", json=body).json()["position"]

    def subjects(q: str) -> list[str]:
        page = client.get("/complaints", params={"q": q, "min_position": last}).json()
        return sorted(i["subject"] for i in page["items"])

    assert subjects("破裂") == ["屏幕破裂"]  # a substring of a sentence without spaces
    assert subjects("换货 手机") == ["屏幕破裂"]  # every term, in any order
    assert subjects("cracked") == ["Screen CRACKED"]  # case-insensitive
    assert subjects("screen box") == []
    assert subjects("100%") == ["Screen CRACKED"]  # % and _ are literal
    assert subjects("10_%") == []
