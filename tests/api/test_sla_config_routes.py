"""SLA configuration over HTTP on both stores: /sla/calendars and /sla/policy (issue 9)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.application import ComplaintsApp
from commands.context import CommandContext
from tests.api.server_errors import assert_no_server_error

OFFICE: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "working_hours": {
        "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
        "tue": [["09:00", "18:00"]], "wed": [["09:00", "18:00"]],
        "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]],
    },
    "holidays": ["2026-10-01", "2026-10-02"],
    "workdays": ["2026-09-27"],
}
RULES: list[dict[str, Any]] = [
    {"name": "vip-critical", "when": {"severity": ["critical"], "tier": ["vip"]},
     "calendar": "cn-office", "first_response": "PT30M", "resolution": "P1D",
     "at_risk_ratio": 0.25},
    {"name": "default", "first_response": "PT4H", "resolution": "P3D"},
]


@pytest.fixture
def supervisor(app: ComplaintsApp, ctx: CommandContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.tokens.issue('sam', 'supervisor', ctx).secret}"}


def head(app: ComplaintsApp) -> int:
    return app.recorder.max_notification_id() or 0


def test_a_calendar_is_created_then_versioned(
    client: TestClient, supervisor: dict[str, str]
) -> None:
    r = client.put("/sla/calendars/cn-office", json={**OFFICE, "reason": "office"},
                   headers=supervisor)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/sla/calendars/cn-office" and r.headers["etag"] == '"1"'
    body = r.json()
    assert (body["version"], body["changed_by"], body["reason"]) == (1, "sam", "office")
    assert body["working_hours"]["mon"] == OFFICE["working_hours"]["mon"]
    assert body["workdays"] == ["2026-09-27"] and not body["built_in"]

    r = client.put("/sla/calendars/cn-office", json={**OFFICE, "holidays": []},
                   headers=supervisor)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["reason"] is None

    # Agents read.
    listed = client.get("/sla/calendars").json()["calendars"]
    assert [(c["name"], c["version"]) for c in listed] == [("24x7", 0), ("cn-office", 2)]
    shown = client.get("/sla/calendars/cn-office")
    assert shown.json()["holidays"] == [] and shown.headers["etag"] == '"2"'
    assert client.get("/sla/calendars/cn-office/versions/1").json()["holidays"] == [
        "2026-10-01", "2026-10-02",
    ]
    versions = client.get("/sla/calendars/cn-office/versions").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    built_in = client.get("/sla/calendars/24x7").json()
    assert built_in["built_in"] and built_in["version"] == 0
    for missing in ("/sla/calendars/nowhere", "/sla/calendars/cn-office/versions/3",
                    "/sla/calendars/nowhere/versions", "/sla/calendars/NOT%20A%20NAME"):
        r = client.get(missing)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_the_policy_is_versioned_with_who_and_why(
    client: TestClient, supervisor: dict[str, str], admin_token: str
) -> None:
    r = client.get("/sla/policy")
    assert r.status_code == 200 and r.json()["version"] == 0 and r.headers["etag"] == '"0"'
    assert r.json()["rules"][0]["first_response"] == "PT4H"

    client.put("/sla/calendars/cn-office", json=OFFICE, headers=supervisor)
    r = client.put("/sla/policy", json={"rules": RULES, "reason": "VIPs first"},
                   headers=supervisor)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["changed_by"], body["reason"]) == (1, "sam", "VIPs first")
    assert body["rules"][0]["when"] == {
        "severity": ["critical"], "tier": ["vip"], "category": None, "channel": None,
    }
    assert body["rules"][1]["at_risk_ratio"] == 0.2 and body["rules"][1]["calendar"] == "24x7"
    assert body["escalation"]["on_resolution_breach"] == 2

    admin = {"Authorization": f"Bearer {admin_token}"}
    changed = [RULES[0], {**RULES[1], "resolution": "PT72H"}]
    r = client.put("/sla/policy", json={"rules": changed, "reason": "hours"}, headers=admin)
    assert r.json()["version"] == 2 and r.json()["changed_by"] == "root"

    assert client.get("/sla/policy").json()["version"] == 2
    old = client.get("/sla/policy/versions/1")
    assert old.json()["rules"][1]["resolution"] == "P3D" and old.headers["etag"] == '"1"'
    assert client.get("/sla/policy/versions/0").json()["reason"].startswith("built in")
    history = client.get("/sla/policy/versions").json()["versions"]
    assert [(v["version"], v["changed_by"]) for v in history] == [
        (0, None), (1, "sam"), (2, "root"),
    ]
    assert client.get("/sla/policy/versions/3").status_code == 404


def test_agents_may_read_but_not_write(
    client: TestClient, app: ComplaintsApp, agent_token: str
) -> None:
    before = head(app)
    client.headers["Authorization"] = f"Bearer {agent_token}"
    for path, body in [
        ("/sla/calendars/cn-office", OFFICE),
        ("/sla/policy", {"rules": RULES[1:], "reason": "mine"}),
    ]:
        r = client.put(path, json=body)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert "supervisor" in r.json()["detail"]
    assert head(app) == before
    assert client.get("/sla/policy").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/sla/calendars/cn", {**OFFICE, "timezone": "Asia/Nowhere"}, "timezone"),
        ("/sla/calendars/cn", {**OFFICE, "timezone": "not a zone"}, "timezone"),
        ("/sla/calendars/cn", {**OFFICE, "working_hours": {"mon": [["18:00", "09:00"]]}},
         "working_hours.mon.0"),
        ("/sla/calendars/cn", {**OFFICE, "working_hours": {"mon": [["9am", "6pm"]]}},
         "working_hours.mon.0.0"),
        ("/sla/calendars/cn", {**OFFICE, "working_hours": {"someday": []}},
         "working_hours.someday"),
        ("/sla/calendars/cn", {**OFFICE, "holidays": ["2026-02-30"]}, "holidays.0"),
        ("/sla/calendars/cn", {**OFFICE, "holidays": ["2026-09-27"]}, "workdays.0"),
        ("/sla/calendars/24x7", OFFICE, "name"),
        ("/sla/calendars/Upper", OFFICE, "name"),
        ("/sla/policy", {"rules": [{**RULES[0], "calendar": "24x7"}], "reason": "x"},
         "rules.0.when"),
        ("/sla/policy", {"rules": RULES, "reason": "x"}, "rules.0.calendar"),
        ("/sla/policy", {"rules": [RULES[1], {**RULES[1], "name": "other"}], "reason": "x"},
         "rules.0.when"),
        ("/sla/policy", {"rules": [RULES[1], RULES[1]], "reason": "x"}, "rules.1.name"),
        ("/sla/policy", {"rules": [{**RULES[1], "first_response": "PT0S"}], "reason": "x"},
         "rules.0.first_response"),
        ("/sla/policy", {"rules": [{**RULES[1], "resolution": "1 day"}], "reason": "x"},
         "rules.0.resolution"),
        ("/sla/policy", {"rules": [{**RULES[1], "at_risk_ratio": 1.5}], "reason": "x"},
         "rules.0.at_risk_ratio"),
        ("/sla/policy", {"rules": [{**RULES[0], "calendar": "24x7",
                                    "when": {"severity": ["urgent"]}}, RULES[1]], "reason": "x"},
         "rules.0.when.severity.0"),
        ("/sla/policy", {"rules": RULES[1:]}, "reason"),
        ("/sla/policy", {"rules": RULES[1:], "reason": "x",
                         "escalation": {"on_resolution_breach": 11}},
         "escalation.on_resolution_breach"),
    ],
)
def test_bad_configuration_is_422_naming_the_field_and_changes_nothing(
    client: TestClient, app: ComplaintsApp, supervisor: dict[str, str],
    path: str, body: dict[str, Any], field: str,
) -> None:
    before = head(app)
    r = client.put(path, json=body, headers=supervisor)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert head(app) == before


def test_if_match_and_idempotency_key(client: TestClient, supervisor: dict[str, str]) -> None:
    body = {"rules": RULES[1:], "reason": "first"}
    r = client.put("/sla/policy", json=body, headers={**supervisor, "If-Match": '"1"'})
    assert r.status_code == 412 and r.headers["etag"] == '"0"'
    r = client.put("/sla/policy", json=body, headers={**supervisor, "If-Match": '"0"'})
    assert r.status_code == 200 and r.json()["version"] == 1

    keyed = {**supervisor, "Idempotency-Key": "cal-1"}
    first = client.put("/sla/calendars/cn-office", json=OFFICE, headers=keyed)
    again = client.put("/sla/calendars/cn-office", json=OFFICE, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = client.put("/sla/calendars/cn-office", json={**OFFICE, "holidays": []}, headers=keyed)
    assert other.status_code == 422

    # A PUT of what is in force records nothing and answers the current version.
    same = client.put("/sla/calendars/cn-office", json=OFFICE, headers=supervisor)
    assert same.status_code == 200 and same.json()["version"] == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["PT1H", "P0D", "09:00", "24:00", "2026-10-01", "vip", "24x7"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)
rule_fields = st.sampled_from(["name", "when", "calendar", "first_response", "resolution",
                               "at_risk_ratio"])
calendar_fields = st.sampled_from(["timezone", "working_hours", "holidays", "workdays",
                                   "workday_hours", "reason"])
mangled_policies = st.builds(
    lambda i, field, value: {
        "rules": [r if n != i else {**r, field: value} for n, r in enumerate(RULES)],
        "reason": "fuzz",
    },
    st.integers(0, 1), rule_fields, json_values,
)
mangled_calendars = st.builds(lambda f, v: {**OFFICE, f: v}, calendar_fields, json_values)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    target=st.sampled_from(["/sla/policy", "/sla/calendars/cn-office"]),
    body=mangled_policies | mangled_calendars | json_values,
)
def test_arbitrary_configuration_never_500(
    client: TestClient, supervisor: dict[str, str], target: str, body: Any
) -> None:
    client.put("/sla/calendars/cn-office", json=OFFICE, headers=supervisor)
    response = client.put(target, json=body, headers=supervisor)
    assert_no_server_error(response, (target, body))
