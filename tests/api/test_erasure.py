"""Erasure of a customer's personal data, through every read path (issue 11 acceptance).

One customer (CUST-1001, two complaints: one commented on and answered) is erased; another
(CUST-2002) is not. Every test runs on SQLite and PostgreSQL (the ``client`` fixture).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aggregates.personal_data import ERASED
from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import (
    AwaitCustomer,
    CommentOnComplaint,
    FileComplaint,
    RecordCustomerReply,
)
from infra.bootstrap import Services
from infra.settings import Settings
from stream.feed import read_page
from tests.intake import intake

ERASED_WORDS = ("张伟", "13800138000", "zhang.wei@example.com", "parcel", "Shanghai", "555-0199")
OTHER = {
    "id": "CUST-2002",
    "name": "李娜",
    "company": None,
    "phone": "13900139000",
    "email": "li.na@example.com",
    "tier": "standard",
}


def file(app: ComplaintsApp, ctx: CommandContext, **overrides: Any) -> UUID:
    command = FileComplaint.model_validate(intake(**overrides))
    return app.file_complaint(command, ctx).complaint_id


@pytest.fixture
def compliance(app: ComplaintsApp, ctx: CommandContext) -> dict[str, str]:
    token = app.tokens.issue("carol", "compliance", ctx).secret
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def complaints(app: ComplaintsApp, ctx: CommandContext) -> dict[str, UUID]:
    first = file(app, ctx)
    app.handle(
        first, CommentOnComplaint(body="Called back on 555-0199", visibility="internal"), ctx
    )
    app.handle(first, AwaitCustomer(reason="photo"), ctx)
    reply = RecordCustomerReply.model_validate({"body": "Photo from Shanghai", "channel": "email"})
    app.handle(first, reply, ctx)
    second = file(app, ctx, description="The parcel was crushed again.", location=None)
    other = file(
        app,
        ctx,
        customer=OTHER,
        subject="Battery",
        description="Battery swells when charging.",
        location="Beijing",
    )
    return {"first": first, "second": second, "other": other}


@pytest.fixture
def before(complaints: dict[str, UUID]) -> datetime:
    """An instant after the filings, before the erasure."""
    instant = datetime.now(UTC)
    time.sleep(0.01)
    return instant


@pytest.fixture
def erased(
    client: TestClient,
    services: Services,
    compliance: dict[str, str],
    complaints: dict[str, UUID],
    before: datetime,
) -> dict[str, Any]:
    services.runner().catch_up()
    analytics = client.get("/analytics/summary").json()
    answer = client.post(
        "/customers/CUST-1001/erase", json={"reason": "request #7"}, headers=compliance
    )
    assert answer.status_code == 200, answer.text
    return {"answer": answer.json(), "analytics": analytics}


def personal_values(complaint: dict[str, Any]) -> list[Any]:
    customer = complaint["customer"]
    values = [customer["name"], customer["phone"], customer["email"], complaint["description"]]
    return values + [c["body"] for c in complaint["comments"]]


def assert_no_erased_words(text: str) -> None:
    for word in ERASED_WORDS:
        assert word not in text, word


def test_erasure_answers_what_it_destroyed(
    erased: dict[str, Any], complaints: dict[str, UUID]
) -> None:
    answer = erased["answer"]
    assert answer["already_erased"] is False
    assert answer["data_keys_destroyed"] == 1
    assert sorted(answer["complaint_ids"]) == sorted(
        [str(complaints["first"]), str(complaints["second"])]
    )


def test_the_complaint_reads_erased(
    client: TestClient, erased: dict[str, Any], complaints: dict[str, UUID]
) -> None:
    complaint = client.get(f"/complaints/{complaints['first']}").json()
    assert set(personal_values(complaint)) == {ERASED}
    assert complaint["location"] == ERASED
    assert complaint["customer"]["id"] == "CUST-1001"  # what erasure finds the customer by
    assert complaint["subject"] == "Screen cracked on arrival"  # not personal: kept
    assert_no_erased_words(client.get(f"/complaints/{complaints['first']}").text)


def test_the_complaint_as_it_was_before_the_erasure_reads_erased(
    client: TestClient, erased: dict[str, Any], complaints: dict[str, UUID], before: datetime
) -> None:
    answer = client.get(f"/complaints/{complaints['first']}", params={"as_of": before.isoformat()})
    assert answer.status_code == 200, answer.text
    assert set(personal_values(answer.json())) == {ERASED}
    assert_no_erased_words(answer.text)


def test_history_reads_erased_in_every_earlier_event(
    client: TestClient, erased: dict[str, Any], complaints: dict[str, UUID]
) -> None:
    answer = client.get(f"/complaints/{complaints['first']}/history")
    events = {e["type"]: e["data"] for e in answer.json()["events"]}
    assert events["filed"]["customer"]["phone"] == ERASED
    assert events["filed"]["description"] == ERASED
    assert events["commented"]["body"] == ERASED
    assert events["customer_replied"]["body"] == ERASED
    assert events["personal_data_erased"] == {"reason": "request #7"}
    assert_no_erased_words(answer.text)


def test_comments_read_erased(
    client: TestClient, erased: dict[str, Any], complaints: dict[str, UUID]
) -> None:
    answer = client.get(f"/complaints/{complaints['first']}/comments")
    assert [c["body"] for c in answer.json()["items"]] == [ERASED]


def test_the_list_rebuilt_from_zero_reads_erased_and_search_finds_no_erased_word(
    client: TestClient, services: Services, erased: dict[str, Any], complaints: dict[str, UUID]
) -> None:
    services.runner().rebuild()
    rows = {r["id"]: r for r in client.get("/complaints").json()["items"]}
    for key in ("first", "second"):
        assert rows[str(complaints[key])]["customer"]["name"] == ERASED
    assert rows[str(complaints["other"])]["customer"]["name"] == "李娜"
    assert client.get("/complaints", params={"q": "parcel"}).json()["items"] == []
    found = client.get("/complaints", params={"q": "Battery swells"}).json()["items"]
    assert [r["id"] for r in found] == [str(complaints["other"])]


def test_the_list_kept_up_incrementally_reads_erased(
    client: TestClient, services: Services, erased: dict[str, Any], complaints: dict[str, UUID]
) -> None:
    services.runner().catch_up()  # the list had the filings before: the erasure event scrubs
    rows = {r["id"]: r for r in client.get("/complaints").json()["items"]}
    assert rows[str(complaints["first"])]["customer"]["name"] == ERASED
    assert client.get("/complaints", params={"q": "parcel"}).json()["items"] == []


def test_the_event_feed_and_what_webhooks_and_nats_send_read_erased(
    client: TestClient, app: ComplaintsApp, erased: dict[str, Any], complaints: dict[str, UUID]
) -> None:
    page = read_page(app, after=0, limit=1000)  # what the webhook worker and the relay send
    mine = [e for e in page.events if e["subject"] == str(complaints["first"])]
    filed = next(e for e in mine if e["type"] == "complaint.filed")
    assert filed["data"]["customer"]["name"] == ERASED
    assert_no_erased_words(
        str([e for e in page.events if e["subject"] != str(complaints["other"])])
    )
    feed = client.get("/events", params={"after": 0, "limit": 1000})
    assert feed.status_code == 200
    assert "complaint.personal_data_erased" in feed.text
    assert_no_erased_words(feed.text.replace("李娜", ""))


def test_analytics_do_not_change(
    client: TestClient, services: Services, erased: dict[str, Any]
) -> None:
    services.runner().catch_up()
    assert client.get("/analytics/summary").json() == erased["analytics"]


def test_another_customer_is_untouched(
    client: TestClient,
    erased: dict[str, Any],
    complaints: dict[str, UUID],
    compliance: dict[str, str],
) -> None:
    # Read as compliance: an agent who does not own the complaint sees the phone masked.
    complaint = client.get(f"/complaints/{complaints['other']}", headers=compliance).json()
    assert complaint["customer"]["name"] == "李娜"
    assert complaint["customer"]["phone"] == "13900139000"
    assert complaint["description"] == "Battery swells when charging."


def test_erasing_again_changes_nothing_and_says_so(
    client: TestClient,
    app: ComplaintsApp,
    erased: dict[str, Any],
    compliance: dict[str, str],
    complaints: dict[str, UUID],
) -> None:
    version = app.get_complaint(complaints["first"]).version
    again = client.post(
        "/customers/CUST-1001/erase", json={"reason": "request #7"}, headers=compliance
    )
    assert again.status_code == 200
    assert again.json()["already_erased"] is True
    assert again.json()["data_keys_destroyed"] == 0
    assert app.get_complaint(complaints["first"]).version == version


def test_a_new_complaint_after_the_erasure_gets_a_new_key_and_can_be_erased_again(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    erased: dict[str, Any],
    compliance: dict[str, str],
) -> None:
    later = file(app, ctx, description="Charger broke too.")
    assert client.get(f"/complaints/{later}").json()["description"] == "Charger broke too."
    again = client.post(
        "/customers/CUST-1001/erase", json={"reason": "request #8"}, headers=compliance
    )
    assert again.json()["already_erased"] is False
    assert again.json()["complaint_ids"] == [str(later)]
    assert client.get(f"/complaints/{later}").json()["description"] == ERASED


def test_an_unknown_customer_is_404(client: TestClient, compliance: dict[str, str]) -> None:
    answer = client.post("/customers/NOBODY/erase", json={"reason": "x"}, headers=compliance)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_an_agent_may_not_erase(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, complaints: dict[str, UUID]
) -> None:
    agent = app.tokens.issue("alice", "agent", ctx, teams=["t1"]).secret
    answer = client.post(
        "/customers/CUST-1001/erase",
        json={"reason": "x"},
        headers={"Authorization": f"Bearer {agent}"},
    )
    assert answer.status_code == 403
    problem = answer.json()
    assert problem["type"].endswith("/forbidden")
    assert problem["action"] == "personal_data.erase"
    assert "compliance may" in problem["detail"]
    for cid in (complaints["first"], complaints["second"]):
        assert app.get_complaint(cid).customer.name == "张伟"
    assert client.get(f"/complaints/{complaints['first']}").json()["customer"]["name"] == "张伟"


def test_a_blank_reason_is_refused_and_nothing_is_erased(
    client: TestClient, compliance: dict[str, str], complaints: dict[str, UUID]
) -> None:
    answer = client.post("/customers/CUST-1001/erase", json={"reason": " "}, headers=compliance)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "reason"
    complaint = client.get(f"/complaints/{complaints['first']}").json()
    assert complaint["customer"]["name"] == "张伟"


def test_the_cli_erases(
    app: ComplaintsApp,
    settings: Settings,
    complaints: dict[str, UUID],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    result = runner.invoke(cli.cli, ["customers", "erase", "CUST-2002", "--reason", "ticket 9"])
    assert result.exit_code == 0, result.output
    assert "1 data key(s) destroyed, 1 complaint(s) told" in result.output
    # This process sees the erasure recorded by the other (the event fast-forwards its cache).
    assert app.get_complaint(complaints["other"]).customer.name == ERASED
    missing = runner.invoke(cli.cli, ["customers", "erase", "NOBODY", "--reason", "x"])
    assert missing.exit_code == 1
