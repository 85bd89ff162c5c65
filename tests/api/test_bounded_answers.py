"""Answers stay bounded however much a complaint or a team collects: comments and workload pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from infra.settings import Settings
from projections.registry import build
from projections.runner import BackgroundRunner, Runner
from queries.complaint_state import EMBEDDED_COMMENTS
from tests.intake import intake


@pytest.fixture
def projections(app: ComplaintsApp, settings: Settings) -> Iterator[BackgroundRunner]:
    with BackgroundRunner(Runner(app, build(), poll_seconds=0.02)) as running:
        yield running


def commented(client: TestClient, count: int) -> tuple[str, list[str]]:
    """A complaint with ``count`` comments; returns its id and the comment bodies in order."""
    cid = client.post("/complaints", json=intake()).json()["id"]
    bodies = [f"comment {i}" for i in range(count)]
    for body in bodies:
        assert client.post(f"/complaints/{cid}/comments", json={"body": body}).status_code == 200
    return cid, bodies


def test_a_complaint_carries_only_its_latest_comments_and_their_count(
    client: TestClient,
) -> None:
    cid, bodies = commented(client, EMBEDDED_COMMENTS + 3)
    answer = client.post(f"/complaints/{cid}/comments", json={"body": "one more"}).json()
    bodies.append("one more")
    for shown in (answer, client.get(f"/complaints/{cid}").json()):
        assert [c["body"] for c in shown["comments"]] == bodies[-EMBEDDED_COMMENTS:]
        assert shown["comment_count"] == len(bodies)
        assert shown["comments_url"] == f"/complaints/{cid}/comments"


def test_comments_page_oldest_first_without_repeats_or_gaps(client: TestClient) -> None:
    cid, bodies = commented(client, 7)
    page = client.get(f"/complaints/{cid}/comments", params={"limit": 3}).json()
    seen = [c["body"] for c in page["items"]]
    pages = 1
    while page["next_cursor"]:
        if pages == 1:  # a comment added while paging shows up on a later page
            client.post(f"/complaints/{cid}/comments", json={"body": "late"})
            bodies.append("late")
        page = client.get(
            f"/complaints/{cid}/comments", params={"limit": 3, "cursor": page["next_cursor"]}
        ).json()
        seen += [c["body"] for c in page["items"]]
        pages += 1
    assert seen == bodies
    assert pages == 3 and page["total"] == 8


def test_comments_as_of_a_moment_leave_out_later_ones(client: TestClient) -> None:
    cid, bodies = commented(client, 2)
    moment = datetime.now(UTC).isoformat()
    client.post(f"/complaints/{cid}/comments", json={"body": "after the moment"})
    then = client.get(f"/complaints/{cid}/comments", params={"as_of": moment}).json()
    assert [c["body"] for c in then["items"]] == bodies and then["total"] == 2


def test_comments_of_an_unknown_complaint_are_404(client: TestClient) -> None:
    for cid in ("00000000-0000-0000-0000-000000000000", "not-an-id"):
        r = client.get(f"/complaints/{cid}/comments")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_workload_pages_agents_and_teams_together(
    client: TestClient, projections: BackgroundRunner
) -> None:
    # Open counts differ (3, 2, 1...) and tie (four agents with 1), so both sort keys matter.
    assignments = [("a1", "t0")] * 3 + [("a0", "t1")] * 2
    assignments += [("a2", "t0"), ("a3", "t1"), ("a0", "t0"), ("a4", "t2")]
    position = 0
    for agent, team in assignments:
        cid = client.post("/complaints", json=intake()).json()["id"]
        body = {"assignee": agent, "team": team}
        position = client.post(f"/complaints/{cid}/assign", json=body).json()["position"]
    first = client.get("/workload", params={"limit": 2, "min_position": position}).json()
    agents = [(a["assignee"], a["team"], a["open"]) for a in first["agents"]]
    teams = [(t["team"], t["open"]) for t in first["teams"]]
    page, pages = first, 1
    while page["next_cursor"]:
        page = client.get("/workload", params={"limit": 2, "cursor": page["next_cursor"]}).json()
        agents += [(a["assignee"], a["team"], a["open"]) for a in page["agents"]]
        teams += [(t["team"], t["open"]) for t in page["teams"]]
        pages += 1
    assert agents == [
        ("a1", "t0", 3), ("a0", "t1", 2), ("a0", "t0", 1), ("a2", "t0", 1), ("a3", "t1", 1),
        ("a4", "t2", 1),
    ]
    assert teams == [("t0", 5), ("t1", 3), ("t2", 1)]
    assert pages == 3  # six agent rows, two a page; the teams list ended on page 2


def test_workload_filtered_by_team_pages_too(
    client: TestClient, projections: BackgroundRunner
) -> None:
    position = 0
    for agent in ("zoe", "amy", "bob"):
        cid = client.post("/complaints", json=intake()).json()["id"]
        body = {"assignee": agent, "team": "east"}
        position = client.post(f"/complaints/{cid}/assign", json=body).json()["position"]
    page = client.get(
        "/workload", params={"team": "east", "limit": 2, "min_position": position}
    ).json()
    assert [a["assignee"] for a in page["agents"]] == ["amy", "bob"]
    rest = client.get(
        "/workload", params={"team": "east", "limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert [a["assignee"] for a in rest["agents"]] == ["zoe"] and rest["teams"] == []
    assert rest["next_cursor"] is None
