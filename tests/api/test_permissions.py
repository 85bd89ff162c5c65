"""Issue 11: every route answers every role as the permission table says, and the scope rules
(agents: own, team and triage; supervisors: their teams and no team) hold for commands, reads
and lists, on both stores."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from aggregates.vocabulary import Role
from api.app import create_app
from api.route_permissions import (
    permission_table,
    route_actions,
)
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from commands.permissions import PERMISSIONS, permission
from infra.bootstrap import bootstrap
from infra.settings import Settings
from projections.registry import build
from projections.runner import Runner
from tests.intake import intake

SUPERVISOR_CTX = CommandContext("sue", Role.SUPERVISOR.value, "corr-perm", teams=("east",))
BODIES: dict[str, Any] = {
    "/complaints": intake(),
    "/assign": {"assignee": "ann", "team": "east"},
    "/comments": {"body": "called back", "visibility": "internal"},
    "/escalate": {"reason": "VIP"},
    "/close": {"resolution_code": "resolved", "summary": "refunded"},
    "/reopen": {"reason": "again"},
    "/await-customer": {"reason": "photo"},
    "/customer-replies": {"body": "here", "channel": "web"},
    "/sla/reapply": {"reason": "new terms"},
    "/tokens": {"name": "walker", "role": "agent"},
}


def file(app: ComplaintsApp, assignee: str | None = None, team: str | None = None) -> UUID:
    cid = app.file_complaint(FileComplaint.model_validate(intake()), SUPERVISOR_CTX).complaint_id
    if assignee is not None:
        # Sent by a supervisor of every team involved: the set-up is not what is tested.
        boss = CommandContext("boss", "supervisor", "corr-setup", teams=(team,) if team else ())
        app.handle(cid, AssignComplaint(assignee=assignee, team=team), boss)
    return cid


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(app: ComplaintsApp, ctx: CommandContext) -> dict[Role, str]:
    """A token per role; the agent "ann" and the supervisor "sue" act for team east."""
    teams = {Role.AGENT: ("east",), Role.SUPERVISOR: ("east",)}
    names = {Role.AGENT: "ann", Role.SUPERVISOR: "sue"}
    return {
        role: app.tokens.issue(
            names.get(role, f"perm-{role.value}"), role.value, ctx, teams=teams.get(role, ())
        ).secret
        for role in Role
    }


@pytest.fixture
def http(services: Any) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as c:
        yield c


# ---- every route x every role -------------------------------------------------------------


@pytest.fixture
def quick_streams(settings: Settings) -> Iterator[TestClient]:
    """An app whose event streams end at once, so a permitted stream request returns."""
    quick = settings.model_copy(
        update={"stream_max_lifetime_seconds": 0.2, "stream_heartbeat_seconds": 0.1}
    )
    with bootstrap(quick) as services, TestClient(create_app(services)) as c:
        yield c


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


def test_every_route_answers_every_role_as_the_table_says(
    quick_streams: TestClient, app: ComplaintsApp, tokens: dict[Role, str], ctx: CommandContext
) -> None:
    api = quick_streams.app
    # Every operation of the OpenAPI document is a route this test walks, and vice versa.
    documented = {
        (method.upper(), path)
        for path, operations in api.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in operations
    }
    walked = route_actions(api)  # type: ignore[arg-type]
    assert documented == set(walked)
    undeclared = sorted(route for route, action in walked.items() if action is None)
    assert undeclared == [], f"routes without a declared permission: {undeclared}"
    unknown = sorted(action for action in walked.values() if action not in PERMISSIONS)
    assert unknown == []

    cid = file(app, assignee="ann", team="east")
    values = {
        "complaint_id": str(cid),
        "reference": app.get_complaint(cid).reference,
        "name": "complaint_list",
        "version": "1",
        "token_id": str(app.tokens.issue("throwaway", "agent", ctx).token_id),
    }
    refused_wrongly, allowed_wrongly = [], []
    for (method, path), action in sorted(walked.items()):
        assert action is not None
        url = fill(path, values)
        body = next((b for suffix, b in BODIES.items() if path.endswith(suffix)), None)
        anonymous = quick_streams.request(method, url, json=body)
        if permission(action).public:
            assert anonymous.status_code not in (401, 403), (method, path)
            continue
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        for role in Role:
            answer = quick_streams.request(method, url, json=body, headers=bearer(tokens[role]))
            if permission(action).allows(role):
                if answer.status_code in (401, 403) or answer.status_code >= 500:
                    refused_wrongly.append((method, path, role.value, answer.text))
            elif answer.status_code != 403 or answer.json()["action"] != action:
                allowed_wrongly.append((method, path, role.value, answer.status_code))
    assert refused_wrongly == []
    assert allowed_wrongly == []


def test_a_route_without_a_permission_is_found(http: TestClient) -> None:
    """The walk above cannot miss a route that forgets ``permit``."""
    api = http.app

    @api.get("/forgotten")  # type: ignore[attr-defined]
    def forgotten() -> dict[str, str]:
        return {}

    assert route_actions(api)[("GET", "/forgotten")] is None  # type: ignore[arg-type]


def test_the_security_document_shows_the_table_the_code_enforces(http: TestClient) -> None:
    document = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    assert permission_table(http.app) in document  # type: ignore[arg-type]


# ---- scope: commands ------------------------------------------------------------------------


def test_an_agent_works_own_and_team_complaints_only(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str]
) -> None:
    agent = bearer(tokens[Role.AGENT])
    mine = file(app, assignee="ann")  # no team: assigned to her by name
    east = file(app, assignee="bob", team="east")
    west = file(app, assignee="walt", team="west")
    close = BODIES["/close"]

    refused = http.post(f"/complaints/{west}/close", json=close, headers=agent)
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/forbidden") and problem["action"] == "complaint.close"
    assert "west" in problem["detail"]
    assert app.get_complaint(west).version == 3  # filed, SLA applied, assigned: nothing more

    comment = BODIES["/comments"]
    assert http.post(f"/complaints/{mine}/comments", json=comment, headers=agent).status_code == 200
    assert http.post(f"/complaints/{east}/close", json=close, headers=agent).status_code == 200
    # Reopening is a supervisor's decision.
    reopen = http.post(f"/complaints/{east}/reopen", json=BODIES["/reopen"], headers=agent)
    assert reopen.status_code == 403 and reopen.json()["action"] == "complaint.reopen"


def test_a_refused_command_reveals_no_version(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str]
) -> None:
    west = file(app, assignee="walt", team="west")
    answer = http.post(
        f"/complaints/{west}/escalate",
        json=BODIES["/escalate"],
        headers={**bearer(tokens[Role.AGENT]), "If-Match": '"1"'},
    )
    assert answer.status_code == 403 and "ETag" not in answer.headers


def test_an_agent_takes_triage_work_for_themselves_only(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str]
) -> None:
    agent = bearer(tokens[Role.AGENT])
    triage = file(app)
    for body, reason in [
        ({"assignee": "bob"}, "only to themselves"),
        ({"assignee": "ann", "team": "west"}, "'west'"),
    ]:
        answer = http.post(f"/complaints/{triage}/assign", json=body, headers=agent)
        assert answer.status_code == 403 and reason in answer.json()["detail"], answer.text
    taken = http.post(
        f"/complaints/{triage}/assign", json={"assignee": "ann", "team": "east"}, headers=agent
    )
    assert taken.status_code == 200 and taken.json()["assignee"] == "ann"


def test_a_supervisor_runs_their_teams_complaints_not_others(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str]
) -> None:
    boss = bearer(tokens[Role.SUPERVISOR])
    east = file(app, assignee="bob", team="east")
    west = file(app, assignee="walt", team="west")
    to_carl = {"assignee": "carl", "team": "east"}
    assert http.post(f"/complaints/{east}/assign", json=to_carl, headers=boss).status_code == 200
    closed = http.post(f"/complaints/{east}/close", json=BODIES["/close"], headers=boss)
    assert closed.status_code == 200
    for action in ("assign", "close"):
        answer = http.post(f"/complaints/{west}/{action}", json=BODIES[f"/{action}"], headers=boss)
        assert answer.status_code == 403 and answer.json()["action"] == f"complaint.{action}"
    # The triage queue and complaints of no team are every supervisor's.
    nobody = file(app, assignee="dan")
    assert (
        http.post(
            f"/complaints/{nobody}/escalate", json=BODIES["/escalate"], headers=boss
        ).status_code
        == 200
    )


def test_compliance_and_analysts_change_no_complaint(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str]
) -> None:
    cid = file(app, assignee="bob", team="east")
    compliance, analyst = bearer(tokens[Role.COMPLIANCE]), bearer(tokens[Role.ANALYST])
    assert http.post("/complaints", json=intake(), headers=compliance).status_code == 403
    for action in ("comments", "close", "assign"):
        answer = http.post(
            f"/complaints/{cid}/{action}", json=BODIES[f"/{action}"], headers=compliance
        )
        assert answer.status_code == 403, answer.text
        assert (
            http.post(
                f"/complaints/{cid}/{action}", json=BODIES[f"/{action}"], headers=analyst
            ).status_code
            == 403
        )
    assert http.get(f"/complaints/{cid}/history", headers=compliance).status_code == 200
    assert http.get(f"/complaints/{cid}", headers=analyst).status_code == 403
    assert http.get("/analytics/summary", headers=analyst).status_code == 200
    assert app.get_complaint(cid).version == 3


# ---- scope: reads and lists -----------------------------------------------------------------


def test_reads_of_one_complaint_obey_the_scope(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str]
) -> None:
    agent = bearer(tokens[Role.AGENT])
    west = file(app, assignee="walt", team="west")
    east = file(app, assignee="bob", team="east")
    reference = app.get_complaint(west).reference
    for path in (
        f"/complaints/{west}",
        f"/complaints/{west}?as_of=2030-01-01T00:00:00Z",
        f"/complaints/{west}/history",
        f"/complaints/{west}/comments",
        f"/complaints/by-reference/{reference}",
    ):
        answer = http.get(path, headers=agent)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["action"] == "complaint.read"
    assert http.get(f"/complaints/{east}/history", headers=agent).status_code == 200
    # An unknown complaint is still 404, whoever asks.
    assert http.get(f"/complaints/{uuid.uuid4()}", headers=agent).status_code == 404


def test_lists_show_what_the_caller_may_open(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str], ctx: CommandContext
) -> None:
    own = file(app, assignee="ann")
    east = file(app, assignee="bob", team="east")
    west = file(app, assignee="walt", team="west")
    triage = file(app)
    nobody = file(app, assignee="dan")  # assigned, but to no team
    legacy = app.tokens.issue("old-timer", "agent", ctx).secret  # issued before teams
    Runner(app, build()).catch_up()

    def listed(token: str) -> set[UUID]:
        answer = http.get("/complaints", params={"limit": 200}, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        return {UUID(item["id"]) for item in answer.json()["items"]}

    assert listed(tokens[Role.AGENT]) == {own, east, triage}
    assert listed(tokens[Role.SUPERVISOR]) == {own, east, triage, nobody}
    assert listed(tokens[Role.COMPLIANCE]) == {own, east, west, triage, nobody}
    assert listed(legacy) == {triage}
    assert http.get("/complaints", headers=bearer(tokens[Role.ANALYST])).status_code == 403

    workload = http.get("/workload", headers=bearer(tokens[Role.SUPERVISOR])).json()
    assert {a["assignee"] for a in workload["agents"]} == {"ann", "bob", "dan"}
    assert {t["team"] for t in workload["teams"]} == {"east"}
    everyone = http.get("/workload", headers=bearer(tokens[Role.ANALYST])).json()
    assert {a["assignee"] for a in everyone["agents"]} == {"ann", "bob", "dan", "walt"}


def test_sla_breaches_show_what_the_caller_may_open(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str]
) -> None:
    east = file(app, assignee="bob", team="east")
    west = file(app, assignee="walt", team="west")
    triage = file(app)
    later = datetime.now(UTC) + timedelta(days=60)
    for cid in (east, west, triage):
        assert app.settle_sla(cid, later).recorded
    Runner(app, build()).catch_up()
    window = {"from": (later - timedelta(days=90)).isoformat(), "to": later.isoformat()}

    def breached(role: Role) -> set[UUID]:
        answer = http.get(
            "/sla/breaches", params={**window, "limit": 200}, headers=bearer(tokens[role])
        )
        assert answer.status_code == 200, answer.text
        return {UUID(item["complaint_id"]) for item in answer.json()["items"]}

    assert breached(Role.AGENT) == breached(Role.SUPERVISOR) == {east, triage}
    assert breached(Role.COMPLIANCE) == breached(Role.ANALYST) == {east, west, triage}
    at_risk = http.get("/sla/at-risk", headers=bearer(tokens[Role.AGENT]))
    assert at_risk.status_code == 200


# ---- tokens over HTTP -----------------------------------------------------------------------


def test_admins_issue_list_and_revoke_tokens(
    http: TestClient, app: ComplaintsApp, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    east = file(app, assignee="bob", team="east")
    body = {"name": "nia", "role": "agent", "teams": ["east"], "expires_in": "12h", "grants": []}
    issued = http.post("/tokens", json=body, headers=admin)
    assert issued.status_code == 201, issued.text
    token = issued.json()
    assert token["teams"] == ["east"] and token["expires_at"] is not None
    assert issued.headers["Location"] == f"/tokens/{token['id']}"
    # The new principal acts for east at once.
    assert http.get(f"/complaints/{east}", headers=bearer(token["secret"])).status_code == 200

    listed = http.get("/tokens", headers=admin)
    assert listed.status_code == 200
    assert token["secret"] not in listed.text and "secret" not in listed.text
    (shown,) = [t for t in listed.json() if t["id"] == token["id"]]
    assert (shown["name"], shown["role"], shown["teams"]) == ("nia", "agent", ["east"])
    assert (shown["issued_at"], shown["issued_by"]) == (token["issued_at"], "perm-admin")

    assert http.delete(f"/tokens/{token['id']}", headers=admin).status_code == 204
    assert http.get(f"/complaints/{east}", headers=bearer(token["secret"])).status_code == 401
    assert http.delete(f"/tokens/{token['id']}", headers=admin).status_code == 409
    assert http.delete(f"/tokens/{uuid.uuid4()}", headers=admin).status_code == 404
    assert http.delete("/tokens/not-an-id", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "boss"}, "role"),
        ({"expires_in": "3w"}, "expires_in"),
        ({"expires_in": "4000d"}, "expires_in"),
        ({"teams": ["  "]}, "teams.0"),
        ({"grants": ["everything"]}, "grants.0"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_token_requests_name_the_field(
    http: TestClient,
    app: ComplaintsApp,
    tokens: dict[Role, str],
    change: dict[str, Any],
    field: str,
) -> None:
    before = len(app.tokens.all())
    answer = http.post(
        "/tokens",
        json={"name": "x", "role": "agent", **change},
        headers=bearer(tokens[Role.ADMIN]),
    )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert len(app.tokens.all()) == before


def test_only_admins_manage_tokens(http: TestClient, tokens: dict[Role, str]) -> None:
    for role in Role:
        if role is Role.ADMIN:
            continue
        answer = http.post("/tokens", json=BODIES["/tokens"], headers=bearer(tokens[role]))
        assert answer.status_code == 403, role
