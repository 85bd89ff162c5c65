"""Which SLA terms a complaint runs under, over HTTP on both stores (issue 9): the policy and
calendar versions in force when it was filed, kept after a change until a supervisor re-applies;
and the issue's worked example on a business calendar, end to end."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from commands.context import CommandContext
from tests.intake import intake

MON_FRI = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# Friday 2026-11-20 17:00 in Shanghai (UTC+8, no DST) is 09:00Z.
FRIDAY_5PM = "2026-11-20T17:00:00+08:00"


@pytest.fixture
def supervisor(app: ComplaintsApp, ctx: CommandContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.tokens.issue('sam', 'supervisor', ctx).secret}"}


def set_policy(client: TestClient, who: dict[str, str], **rule: Any) -> int:
    body = {"reason": "test", "rules": [{"name": "all", **rule}]}
    r = client.put("/sla/policy", json=body, headers=who)
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


def file(client: TestClient, **extra: Any) -> dict[str, Any]:
    r = client.post("/complaints", json={**intake(), **extra})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_complaints_keep_the_policy_they_were_filed_under_until_re_applied(
    client: TestClient, supervisor: dict[str, str]
) -> None:
    before = file(client)
    version = set_policy(client, supervisor, first_response="PT1H", resolution="P1D")
    after = file(client)

    assert before["sla"]["policy_version"] == 0
    assert (after["sla"]["policy_version"], after["sla"]["first_response"]["target"]) == (
        version, "PT1H"
    )
    again = client.get(f"/complaints/{before['id']}").json()
    assert again["sla"]["policy_version"] == 0  # the change did not touch it

    r = client.post(f"/complaints/{before['id']}/sla/reapply", json={"reason": "new terms"},
                    headers=supervisor)
    assert r.status_code == 200, r.text
    assert (r.json()["sla"]["policy_version"], r.json()["sla"]["rule"]) == (version, "all")
    history = client.get(f"/complaints/{before['id']}/history").json()["events"]
    applied = [e for e in history if e["type"] == "sla_applied"]
    assert [e["actor"] for e in applied] == ["alice", "sam"]  # filing, then the re-apply


@pytest.mark.parametrize(
    ("holidays", "workdays", "due"),
    [
        ([], [], "2026-11-23T02:00:00Z"),  # Monday 10:00 in Shanghai
        (["2026-11-23"], [], "2026-11-24T02:00:00Z"),  # Monday off: Tuesday 10:00
        ([], ["2026-11-21"], "2026-11-21T02:00:00Z"),  # a make-up Saturday: Saturday 10:00
    ],
    ids=["monday", "monday-a-holiday", "saturday-a-make-up-workday"],
)
def test_the_worked_example_over_http(
    client: TestClient,
    supervisor: dict[str, str],
    holidays: list[str],
    workdays: list[str],
    due: str,
) -> None:
    calendar = {"timezone": "Asia/Shanghai", "working_hours": MON_FRI,
                "holidays": holidays, "workdays": workdays}
    r = client.put("/sla/calendars/cn-office", json=calendar, headers=supervisor)
    assert r.status_code == 201, r.text
    set_policy(client, supervisor, calendar="cn-office", first_response="PT2H", resolution="P2D")

    filed = file(client, received_at=FRIDAY_5PM)

    first_response = filed["sla"]["first_response"]
    assert (filed["sla"]["calendar"], first_response["target"]) == ("cn-office", "PT2H")
    assert first_response["due_at"] == due
