"""The read side over HTTP: read-your-writes, list filters, cursors, workload, summary, status.

The summary's figures are the oracle's (``tests/projections/oracle.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from infra.settings import Settings
from projections.registry import build
from projections.runner import BackgroundRunner, Runner
from tests.intake import intake
from tests.projections.oracle import Oracle


@pytest.fixture
def projections(app: ComplaintsApp, settings: Settings) -> Iterator[BackgroundRunner]:
    with BackgroundRunner(Runner(app, build(), poll_seconds=0.02)) as running:
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


@pytest.fixture
def five_cases(client: TestClient) -> int:
    """Cases 0 to 4, odd ones of high severity, case 3 about a zebra; returns the last position."""
    last = 0
    for i in range(5):
        body = intake(severity="high" if i % 2 else "low", subject=f"Case {i}")
        if i == 3:
            body["description"] = "A zebra ate the parcel"
        last = client.post("/complaints", json=body).json()["position"]
    return last


def test_the_list_pages_newest_first_with_a_cursor(
    client: TestClient, projections: BackgroundRunner, five_cases: int
) -> None:
    listed = client.get("/complaints", params={"min_position": five_cases, "limit": 2}).json()
    assert len(listed["items"]) == 2 and listed["next_cursor"]
    seen = [i["subject"] for i in listed["items"]]
    while listed["next_cursor"]:
        listed = client.get(
            "/complaints", params={"limit": 2, "cursor": listed["next_cursor"]}
        ).json()
        seen += [i["subject"] for i in listed["items"]]
    assert seen == [f"Case {i}" for i in reversed(range(5))]  # newest first, no repeats


def catch_up(app: ComplaintsApp, settings: Settings) -> None:
    """Every view up to the head at once: for tests of what a view answers rather than of
    waiting for it (a background runner takes a second to stop on PostgreSQL)."""
    Runner(app, build()).catch_up()


def test_the_list_filters_on_every_field_given(
    client: TestClient, app: ComplaintsApp, settings: Settings, five_cases: int
) -> None:
    catch_up(app, settings)
    high = client.get("/complaints", params={"severity": "high", "channel": "web"}).json()
    assert sorted(i["subject"] for i in high["items"]) == ["Case 1", "Case 3"]


def test_the_list_searches_the_description_and_shows_the_customer(
    client: TestClient, app: ComplaintsApp, settings: Settings, five_cases: int
) -> None:
    catch_up(app, settings)
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


def test_the_summary_equals_the_oracle(
    client: TestClient, projections: BackgroundRunner, app: ComplaintsApp, settings: Settings
) -> None:
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
    expected = Oracle.of(app, settings.report_tz).summary(
        date(2025, 6, 1), date(2025, 6, 30), "week"
    )
    assert {k: summary[k] for k in expected} == expected
    assert [(g["key"], g["filed"]) for g in summary["groups"]] == [("2025-W22", 1)]


def test_status_lists_every_projection_at_or_behind_the_head(
    client: TestClient, app: ComplaintsApp, settings: Settings
) -> None:
    client.post("/complaints", json=intake())
    catch_up(app, settings)
    status = client.get("/projections").json()
    assert {p["name"] for p in status["projections"]} == {
        "complaint_list", "workload", "analytics", "sla", "customers", "product_issues",
    }
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
