"""The SLA reads over HTTP (SQLite and PostgreSQL): GET /sla/at-risk and GET /sla/breaches, their
filters, keyset pages and refusals; and the at-risk and breached counts of GET /workload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from aggregates.vocabulary import Visibility
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, CommentOnComplaint
from projections.registry import build
from projections.runner import BackgroundRunner, Runner
from tests.intake import intake
from tests.manual_clock import Clock

# Recent, so that d's answer (its event's time is the real time) meets its target.
RECEIVED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
HOUR = timedelta(hours=1)
FR_DUE = RECEIVED + 4 * HOUR  # the built-in policy: PT4H to a first response, P3D to resolve
FR_AT_RISK = FR_DUE - timedelta(minutes=48)  # 20 % of the target left


@pytest.fixture
def clock(app: ComplaintsApp) -> Clock:
    return Clock.installed(app, RECEIVED)


def file(client: TestClient, minutes: int = 0) -> UUID:
    body = intake(received_at=(RECEIVED + timedelta(minutes=minutes)).isoformat())
    response = client.post("/complaints", json=body)
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


@pytest.fixture
def cases(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, clock: Clock
) -> dict[str, UUID]:
    """a (bob, t1), b (carol, t1), c (dan, t2) received a minute apart; d answered at once."""
    ids = {name: file(client, minutes) for minutes, name in enumerate("abcd")}
    for name, (who, team) in zip("abcd", [("bob", "t1"), ("carol", "t1"), ("dan", "t2"),
                                          ("bob", "t1")], strict=True):
        app.handle(ids[name], AssignComplaint(assignee=who, team=team), ctx)
    app.handle(ids["d"], CommentOnComplaint(body="on it", visibility=Visibility.CUSTOMER), ctx)
    return ids


def catch_up(app: ComplaintsApp) -> None:
    Runner(app, build()).catch_up()


def ids_of(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["complaint_id"], i["metric"]) for i in page["items"]]


def test_nothing_is_at_risk_before_the_at_risk_instant(
    client: TestClient, app: ComplaintsApp, clock: Clock, cases: dict[str, UUID]
) -> None:
    catch_up(app)
    clock.now = FR_AT_RISK - timedelta(seconds=1)
    assert client.get("/sla/at-risk").json() == {"items": [], "next_cursor": None}


def test_at_risk_lists_warned_and_unwarned_clocks_due_soonest_first(
    client: TestClient, app: ComplaintsApp, clock: Clock, cases: dict[str, UUID]
) -> None:
    a, b, c = cases["a"], cases["b"], cases["c"]
    app.settle_sla(a, FR_AT_RISK + 2 * HOUR / 60)  # the watcher warned a only
    catch_up(app)
    clock.now = FR_AT_RISK + timedelta(minutes=10)
    page = client.get("/sla/at-risk").json()
    assert ids_of(page) == [(str(x), "first_response") for x in (a, b, c)]
    first = page["items"][0]
    assert first["state"] == "at_risk" and first["warned_at"] is not None
    assert page["items"][1]["warned_at"] is None
    assert datetime.fromisoformat(first["due_at"]) == FR_DUE
    assert (first["team"], first["assignee"], first["cycle"]) == ("t1", "bob", 1)
    assert first["reference"].startswith("C")
    assert ids_of(client.get("/sla/at-risk", params={"team": "t1"}).json()) == [
        (str(a), "first_response"), (str(b), "first_response")
    ]
    assert ids_of(client.get("/sla/at-risk", params={"assignee": "dan"}).json()) == [
        (str(c), "first_response")
    ]
    # Due: breached, no longer at risk (b's due is a minute after a's).
    clock.now = FR_DUE + timedelta(seconds=30)
    assert ids_of(client.get("/sla/at-risk").json()) == [
        (str(b), "first_response"), (str(c), "first_response")
    ]


def test_at_risk_pages_follow_the_cursor(
    client: TestClient, app: ComplaintsApp, clock: Clock, cases: dict[str, UUID]
) -> None:
    catch_up(app)
    clock.now = FR_AT_RISK + timedelta(minutes=5)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/sla/at-risk", params=params).json()
        seen += ids_of(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [(str(cases[x]), "first_response") for x in "abc"]


def test_breaches_lists_the_recorded_breaches_of_a_range_newest_first(
    client: TestClient, app: ComplaintsApp, clock: Clock, cases: dict[str, UUID]
) -> None:
    later = FR_DUE + HOUR
    for name in "abcd":
        app.settle_sla(cases[name], later)
    catch_up(app)
    clock.now = later
    page = client.get("/sla/breaches").json()
    assert ids_of(page) == [(str(cases[x]), "first_response") for x in "cba"]
    item = page["items"][0]
    assert datetime.fromisoformat(item["breached_at"]) == FR_DUE + 2 * timedelta(minutes=1)
    assert item["state"] == "breached" and item["is_open"] is True
    window = {"from": (FR_DUE + timedelta(minutes=1)).isoformat(),
              "to": (FR_DUE + timedelta(minutes=2)).isoformat()}
    assert ids_of(client.get("/sla/breaches", params=window).json()) == [
        (str(cases["b"]), "first_response")
    ]
    assert ids_of(client.get("/sla/breaches", params={"team": "t2"}).json()) == [
        (str(cases["c"]), "first_response")
    ]
    assert client.get("/sla/breaches", params={"metric": "resolution"}).json()["items"] == []
    first = client.get("/sla/breaches", params={"limit": 2}).json()
    rest = client.get("/sla/breaches", params={"limit": 2, "cursor": first["next_cursor"]})
    assert ids_of(first) + ids_of(rest.json()) == ids_of(page)
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/sla/breaches", {"from": "2026-03-02T10:00:00Z", "to": "2026-03-02T10:00:00Z"}, "to"),
        ("/sla/breaches", {"from": "2026-03-02T10:00:00"}, "from"),
        ("/sla/breaches", {"to": "0001-01-01T00:00:00Z"}, "to"),
        ("/sla/breaches", {"metric": "speed"}, "metric"),
        ("/sla/breaches", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ("/sla/at-risk", {"limit": 0}, "limit"),
        ("/sla/at-risk", {"team": ""}, "team"),
        ("/sla/at-risk", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    client: TestClient, path: str, params: dict[str, Any], field: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert field in str(response.json()["errors"])


def test_a_cursor_of_one_read_is_refused_by_the_other(
    client: TestClient, app: ComplaintsApp, clock: Clock, cases: dict[str, UUID]
) -> None:
    for name in "abc":
        app.settle_sla(cases[name], FR_DUE + HOUR)
    catch_up(app)
    clock.now = FR_DUE + HOUR
    cursor = client.get("/sla/breaches", params={"limit": 1}).json()["next_cursor"]
    assert cursor is not None
    assert client.get("/sla/at-risk", params={"cursor": cursor}).status_code == 422


@pytest.fixture
def projections(app: ComplaintsApp) -> Iterator[BackgroundRunner]:
    with BackgroundRunner(Runner(app, build(), poll_seconds=0.02)) as running:
        yield running


def test_a_read_waits_for_the_sla_view(
    client: TestClient, app: ComplaintsApp, clock: Clock, projections: BackgroundRunner
) -> None:
    filed = client.post("/complaints", json=intake(received_at=RECEIVED.isoformat())).json()
    clock.now = FR_AT_RISK + timedelta(seconds=1)
    page = client.get("/sla/at-risk", params={"min_position": filed["position"]}).json()
    assert ids_of(page) == [(filed["id"], "first_response")]


def test_workload_counts_at_risk_and_breached_open_complaints(
    client: TestClient, app: ComplaintsApp, clock: Clock, cases: dict[str, UUID]
) -> None:
    app.settle_sla(cases["a"], FR_AT_RISK + timedelta(minutes=5))  # warned
    app.settle_sla(cases["c"], FR_DUE + HOUR)  # warned and breached: breached only
    catch_up(app)
    load = client.get("/workload").json()
    agents = {a["assignee"]: (a["at_risk"], a["breached"]) for a in load["agents"]}
    assert agents == {"bob": (1, 0), "carol": (0, 0), "dan": (0, 1)}
    teams = {t["team"]: (t["at_risk"], t["breached"]) for t in load["teams"]}
    assert teams == {"t1": (1, 0), "t2": (0, 1)}
