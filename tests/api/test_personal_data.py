"""Personal data over HTTP, on SQLite and PostgreSQL: who sees which field masked, and the access
log every clear showing writes (docs/personal-data-access.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, CommentOnComplaint, FileComplaint
from infra.bootstrap import Services
from infra.settings import Settings
from projections.database import database_of
from tests.api.test_read_side import catch_up
from tests.intake import intake

PHONE, EMAIL, NAME = "13800138000", "zhang.wei@example.com", "张伟"
MASKED_PHONE, MASKED_EMAIL, MASKED_NAME = "138****8000", "z***@example.com", "张*"


def headers(
    app: ComplaintsApp, ctx: CommandContext, name: str, role: str, **kw: Any
) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.tokens.issue(name, role, ctx, **kw).secret}"}


def file(
    app: ComplaintsApp,
    ctx: CommandContext,
    *,
    assignee: str | None = "bob",
    team: str | None = None,
    customer: str = "CUST-1001",
) -> UUID:
    body = intake()
    body["customer"]["id"] = customer
    cid = app.file_complaint(FileComplaint.model_validate(body), ctx).complaint_id
    if assignee:
        app.handle(cid, AssignComplaint(assignee=assignee, team=team), ctx)
    app.handle(cid, CommentOnComplaint(body="Called the customer back"), ctx)
    return cid


def access_log(
    client: TestClient, compliance: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    answer = client.get("/audit/access-log", params=params, headers=compliance)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


@pytest.fixture
def compliance(app: ComplaintsApp, ctx: CommandContext) -> dict[str, str]:
    return headers(app, ctx, "carol", "compliance")


@pytest.fixture
def owned(app: ComplaintsApp, ctx: CommandContext) -> UUID:
    """A complaint of the team t1 assigned to its agent bob; alice works in t1 too."""
    return file(app, ctx, team="t1")


@pytest.fixture
def bob(app: ComplaintsApp, ctx: CommandContext) -> dict[str, str]:
    """The agent who owns ``owned``."""
    return headers(app, ctx, "bob", "agent", teams=["t1"])


@pytest.fixture
def alice(app: ComplaintsApp, ctx: CommandContext) -> dict[str, str]:
    """An agent of bob's team: ``owned`` is in her scope, but not hers."""
    return headers(app, ctx, "alice", "agent", teams=["t1"])


def test_an_agent_sees_contact_details_only_on_complaints_they_own(
    client: TestClient, owned: UUID, bob: dict[str, str], alice: dict[str, str]
) -> None:
    mine = client.get(f"/complaints/{owned}", headers=bob).json()
    theirs = client.get(f"/complaints/{owned}", headers=alice).json()

    assert (mine["customer"]["phone"], mine["customer"]["email"]) == (PHONE, EMAIL)
    assert (theirs["customer"]["phone"], theirs["customer"]["email"]) == (
        MASKED_PHONE,
        MASKED_EMAIL,
    )
    assert mine["customer"]["name"] == theirs["customer"]["name"] == NAME
    assert theirs["description"] == mine["description"]  # the case itself is theirs to work


def test_command_answers_are_masked_like_reads(
    client: TestClient, owned: UUID, bob: dict[str, str], alice: dict[str, str]
) -> None:
    path = f"/complaints/{owned}/comments"
    answer = client.post(path, json={"body": "Looked into it"}, headers=alice)
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer"]["phone"] == MASKED_PHONE
    assert answer.json()["customer"]["name"] == NAME
    answer = client.post(path, json={"body": "Called again"}, headers=bob)
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer"]["phone"] == PHONE


def test_an_agent_sees_the_history_masked_on_complaints_they_do_not_own(
    client: TestClient, owned: UUID, bob: dict[str, str], alice: dict[str, str]
) -> None:
    def filed(who: dict[str, str]) -> dict[str, Any]:
        first = client.get(f"/complaints/{owned}/history", headers=who).json()["events"][0]
        assert first["type"] == "filed"
        return first["data"]["customer"]  # type: ignore[no-any-return]

    assert (filed(alice)["phone"], filed(alice)["name"]) == (MASKED_PHONE, NAME)
    assert filed(bob)["phone"] == PHONE


def feed(client: TestClient, who: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The data of each event type on the first page of ``/events``."""
    answer = client.get("/events", headers=who)
    assert answer.status_code == 200, answer.text
    return {e["type"]: e["data"] for e in answer.json()["events"]}


def test_an_analyst_without_the_grant_sees_every_personal_field_masked(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    settings: Settings,
    compliance: dict[str, str],
    owned: UUID,
) -> None:
    analyst = headers(app, ctx, "ann", "analyst")
    catch_up(app, settings)
    events = feed(client, analyst)
    assert events["complaint.filed"]["customer"] | {"id": "x"} == {
        "id": "x",
        "name": MASKED_NAME,
        "company": None,
        "phone": MASKED_PHONE,
        "email": MASKED_EMAIL,
        "tier": "vip",
    }
    filed = events["complaint.filed"]
    assert filed["description"] == filed["location"] == "[masked]"
    assert filed["subject"] == "Screen cracked on arrival"  # not personal
    assert events["complaint.commented"]["body"] == "[masked]"
    # Analysts read the feed, figures and clocks, never one complaint nor the list of them.
    for path in (f"/complaints/{owned}", f"/complaints/{owned}/comments", "/complaints"):
        refused = client.get(path, headers=analyst)
        assert refused.status_code == 403, path
        assert NAME not in refused.text and PHONE not in refused.text
    assert access_log(client, compliance) == []


def test_an_analyst_with_the_grant_sees_them_in_clear_and_is_logged(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    settings: Settings,
    compliance: dict[str, str],
    owned: UUID,
) -> None:
    analyst = headers(app, ctx, "ann", "analyst", grants=["personal_data"])
    catch_up(app, settings)
    events = feed(client, analyst)
    filed = events["complaint.filed"]
    assert (filed["customer"]["name"], filed["customer"]["phone"]) == (NAME, PHONE)
    assert filed["description"] == intake()["description"]
    assert events["complaint.commented"]["body"] == "Called the customer back"
    [entry] = access_log(client, compliance)
    assert (entry["principal"], entry["role"], entry["complaint_id"], entry["route"]) == (
        "ann",
        "analyst",
        str(owned),
        "GET /events",
    )
    assert entry["fields"] == sorted(
        ["customer.name", "customer.phone", "customer.email", "location", "description", "body"]
    )


def test_masked_reads_write_no_log_entry(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    settings: Settings,
    compliance: dict[str, str],
    owned: UUID,
) -> None:
    catch_up(app, settings)
    for role in ("service", "analyst"):
        who = headers(app, ctx, f"a-{role}", role)
        assert feed(client, who)["complaint.filed"]["customer"]["phone"] == MASKED_PHONE
        # Refused reads show nothing, so log nothing either.
        for path in ("", "/comments", "/history"):
            assert client.get(f"/complaints/{owned}{path}", headers=who).status_code == 403
    assert access_log(client, compliance) == []


def test_a_supervisor_sees_their_teams_in_clear_and_may_not_read_other_teams(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, compliance: dict[str, str]
) -> None:
    ours = file(app, ctx, team="east")
    theirs = file(app, ctx, team="west")
    unrouted = file(app, ctx, assignee=None)
    teamless = file(app, ctx, assignee="bob", team=None)
    sue = headers(app, ctx, "sue", "supervisor", teams=["east"])

    def read(cid: UUID) -> Any:
        return client.get(f"/complaints/{cid}", headers=sue)

    assert {read(cid).json()["customer"]["phone"] for cid in (ours, unrouted, teamless)} == {PHONE}
    # Another team's complaint is out of her scope: refused, not shown masked (the rule that
    # she would see it as an agent does is queries/disclosure.py's, tests/unit/test_disclosure.py).
    refused = read(theirs)
    assert refused.status_code == 403 and refused.json()["action"] == "complaint.read"
    assert PHONE not in refused.text and NAME not in refused.text
    logged = {e["complaint_id"] for e in access_log(client, compliance, principal="sue")}
    assert logged == {str(ours), str(unrouted), str(teamless)}


def test_compliance_reads_in_clear_and_every_read_is_logged_with_its_purpose(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    settings: Settings,
    compliance: dict[str, str],
    owned: UUID,
) -> None:
    catch_up(app, settings)
    ask = {**compliance, "X-Purpose": "DSAR-2026-17", "X-Request-ID": "req-1"}
    one = client.get(f"/complaints/{owned}", headers=ask).json()
    assert one["customer"]["phone"] == PHONE
    for path in ("/comments", "/history"):
        assert client.get(f"/complaints/{owned}{path}", headers=ask).status_code == 200
    assert client.get("/complaints", headers=ask).status_code == 200

    entries = access_log(client, compliance)
    assert sorted(e["route"] for e in entries) == [
        "GET /complaints",
        "GET /complaints/{complaint_id}",
        "GET /complaints/{complaint_id}/comments",
        "GET /complaints/{complaint_id}/history",
    ]
    assert {(e["purpose"], e["request_id"], e["principal"]) for e in entries} == {
        ("DSAR-2026-17", "req-1", "carol")
    }
    assert {e["customer_id"] for e in entries} == {"CUST-1001"}
    comments = next(e for e in entries if e["route"].endswith("/comments"))
    assert comments["fields"] == ["body"]
    listing = next(e for e in entries if e["route"] == "GET /complaints")
    assert listing["fields"] == ["customer.name"]


def test_an_agent_reading_a_complaint_is_logged_with_the_fields_shown(
    client: TestClient, compliance: dict[str, str], owned: UUID, alice: dict[str, str]
) -> None:
    read = client.get(f"/complaints/{owned}", headers=alice)  # contact details masked
    assert read.status_code == 200, read.text
    [entry] = access_log(client, compliance)
    assert (entry["principal"], entry["role"], entry["purpose"]) == ("alice", "agent", None)
    assert "customer.phone" not in entry["fields"] and "customer.name" in entry["fields"]


@pytest.mark.parametrize("purpose", ["x" * 201, "two words", "caf\u00e9"])
def test_a_bad_purpose_is_refused_and_nothing_is_logged(
    client: TestClient, compliance: dict[str, str], owned: UUID, purpose: str
) -> None:
    answer = client.get(
        f"/complaints/{owned}",
        headers={**compliance, "X-Purpose": purpose.encode()},  # type: ignore[dict-item]
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "X-Purpose"
    assert access_log(client, compliance) == []


def test_the_access_log_filters_by_customer_complaint_principal_and_time(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    compliance: dict[str, str],
) -> None:
    first = file(app, ctx, customer="CUST-A")
    second = file(app, ctx, customer="CUST-B")
    dora = headers(app, ctx, "dora", "compliance")
    before = datetime.now(UTC)
    client.get(f"/complaints/{first}", headers=compliance)
    client.get(f"/complaints/{second}", headers=compliance)
    client.get(f"/complaints/{second}", headers=dora)
    after = datetime.now(UTC) + timedelta(seconds=1)

    assert [e["complaint_id"] for e in access_log(client, compliance, customer_id="CUST-A")] == [
        str(first)
    ]
    by_complaint = access_log(client, compliance, complaint_id=str(second))
    assert [e["principal"] for e in by_complaint] == ["dora", "carol"]  # newest first
    assert [e["complaint_id"] for e in access_log(client, compliance, principal="dora")] == [
        str(second)
    ]
    assert len(access_log(client, compliance, **{"from": before.isoformat()})) == 3
    assert access_log(client, compliance, to=before.isoformat()) == []
    assert len(access_log(client, compliance, to=after.isoformat())) == 3


def test_the_access_log_pages_newest_first_with_an_opaque_cursor(
    client: TestClient, compliance: dict[str, str], owned: UUID
) -> None:
    for _ in range(3):
        client.get(f"/complaints/{owned}", headers=compliance)
    everything = access_log(client, compliance)
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/audit/access-log", params=params, headers=compliance).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in everything] and len(seen) == 3


def test_bad_access_log_queries_are_named(client: TestClient, compliance: dict[str, str]) -> None:
    for params, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"complaint_id": "nope"}, "complaint_id"),
        ({"from": "yesterday"}, "from"),
    ):
        answer = client.get("/audit/access-log", params=params, headers=compliance)
        assert answer.status_code == 422, params
        assert answer.json()["errors"][0]["field"] == field


def test_only_compliance_reads_the_access_log_and_nobody_changes_it(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, compliance: dict[str, str]
) -> None:
    for role in ("admin", "agent", "supervisor", "analyst", "service"):
        refused = client.get("/audit/access-log", headers=headers(app, ctx, "x", role))
        assert refused.status_code == 403, role
        assert refused.json()["action"] == "audit.access_log"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.request(method, "/audit/access-log", headers=compliance).status_code == 405


@pytest.fixture
def log_gone(services: Services) -> Iterator[None]:
    with database_of(services.app).transaction(commit=True) as cursor:
        cursor.execute(f"DROP TABLE {database_of(services.app).dialect.table('access_log')}")
    yield


def test_a_read_whose_access_cannot_be_logged_is_refused(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    settings: Settings,
    owned: UUID,
    bob: dict[str, str],
    log_gone: None,
) -> None:
    catch_up(app, settings)
    analyst = headers(app, ctx, "ann", "analyst")
    assert client.get("/events", headers=analyst).status_code == 200  # masked: nothing to log
    refused = client.get(f"/complaints/{owned}", headers=bob)
    assert refused.status_code == 503
    assert refused.json()["type"].endswith("access-log-unavailable")
    assert "13800138000" not in refused.text
