"""Repeat complaints over HTTP (issue 12): GET /customers/{id}, the links and tags in the
complaint's representation, and the history told as a story. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from aggregates.vocabulary import Role
from infra.bootstrap import Services
from infra.settings import Settings
from projections.customers import CUSTOMERS_COMPLAINTS
from queries.disclosure import ALL_FIELDS, disclose_all, event_paths
from queries.history import History, HistoryEvent, get_history
from queries.story import render_text, tell
from tests.intake import intake

QUALNAMES = {"filed": "Complaint.Filed", "commented": "Complaint.Commented"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"repeat_complaints_enabled": True})


def test_a_repeat_complaint_shows_its_link_and_the_customer_their_figures(
    client: TestClient, services: Services, role_tokens: dict[Role, str]
) -> None:
    first = client.post("/complaints", json=intake()).json()
    assert (first["tags"], first["linked"]) == ([], [])
    client.post(f"/complaints/{first['id']}/close",
                json={"resolution_code": "resolved", "summary": "Exchanged"})
    second = client.post("/complaints", json=intake(subject="Cracked again"))
    assert second.status_code == 201
    repeat = second.json()
    assert repeat["linked"] == [{"id": first["id"], "reference": first["reference"]}]
    assert repeat["version"] == 3  # Filed, SlaApplied, LinkedTo: one save
    as_of = client.get(f"/complaints/{repeat['id']}", params={"as_of": repeat["updated_at"]})
    assert as_of.json()["linked"] == repeat["linked"]

    services.runner(["customers"]).catch_up()
    answer = client.get("/customers/CUST-1001", params={"min_position": repeat["position"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {k: body[k] for k in ("customer_id", "complaints", "open", "last_30_days")} == {
        "customer_id": "CUST-1001", "complaints": 2, "open": 1, "last_30_days": 2,
    }
    assert [(c["reference"], c["status"]) for c in body["recent"]] == [
        (repeat["reference"], "new"), (first["reference"], "closed")
    ]
    assert body["last_filed_at"] == body["recent"][0]["filed_at"]
    assert client.get("/customers/CUST-0000").status_code == 404

    # An erasure leaves the view as it was: it never held a name, phone or e-mail.
    compliance = {"Authorization": f"Bearer {role_tokens[Role.COMPLIANCE]}"}
    erased = client.post("/customers/CUST-1001/erase", json={"reason": "ticket 7"},
                         headers=compliance)
    assert erased.status_code == 200, erased.text
    services.runner(["customers"]).catch_up()
    rows = str(services.read_models.snapshot(CUSTOMERS_COMPLAINTS))
    assert "CUST-1001" in rows
    assert not any(word in rows for word in ("张伟", "13800138000", "zhang.wei@example.com"))
    assert client.get("/customers/CUST-1001").json()["complaints"] == 2


def test_the_history_reads_as_a_story_naming_who_which_rule_and_which_cause(
    client: TestClient, services: Services
) -> None:
    """Routing and the shipped rules act for real; the story says who did what, by which rule,
    because of which event, and a remedy and the survey read as sentences too."""
    client.put("/directory/teams/east", json={"name": "East", "supervisor": "wang.wu"})
    client.put("/directory/agents/li.na", json={
        "display_name": "Li Na", "team": "east", "available": True,
        "approval_limit": {"amount": "500.00", "currency": "CNY"}})
    client.put("/routing/rules", json={
        "rules": [{"name": "east", "when": {"region": ["east"]}, "team": "east"}],
        "reason": "regions"})
    filed = client.post(
        "/complaints", json=intake(severity="medium", description="我要找律师起诉你们")
    ).json()
    cid = filed["id"]
    client.post(f"/complaints/{cid}/comments",
                json={"body": "记者已经联系我了", "visibility": "internal"})
    remedy = client.post(f"/complaints/{cid}/remedies", json={
        "kind": "refund", "amount": "120.00", "currency": "CNY", "description": "Refund"}).json()
    client.post(f"/complaints/{cid}/close",
                json={"resolution_code": "resolved", "summary": "Settled with the customer"})

    text = client.get(f"/complaints/{cid}/history", params={"format": "text"})
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    lines = text.text.splitlines()
    assert lines[0] == f"Complaint {filed['reference']} ({cid})"
    assert lines[1] == "its stored events verify against their hash chain"
    story = [line.split("  ", 2)[2] for line in lines[3:]]  # without the time and version
    assert story[0].startswith(
        "alice: filed by alice via web for customer 张伟 (CUST-1001, vip): "
        '"Screen cracked on arrival" (product_quality, severity medium'
    )
    assert story[1].startswith("alice: SLA terms applied: policy v0")
    filing = "because of event 1 (filed): "
    assert story[2] == (
        f"automation (rule routing/east@v1), {filing}assigned to li.na of team east because "
        "routing rule 'east'"
    )
    legal = f"automation (rule legal-risk@v0), {filing}"
    assert story[3].startswith(legal + "severity raised from medium to high because rule")
    assert story[4].startswith(f"automation, {filing}SLA terms applied")  # for the new severity
    assert story[5].startswith(legal + "tagged legal_risk because")
    assert story[6].startswith(legal + "notified the team supervisor wang.wu (template legal_risk)")
    assert story[7] == 'alice: commented (internal): "记者已经联系我了"'
    media = "automation (rule media-risk@v0), because of event 8 (commented): "
    assert story[8].startswith(media + "tagged media_risk")
    assert story[9].startswith(media + "notified the team supervisor wang.wu")
    short = remedy["id"][:8]
    assert story[10] == f'alice: remedy {short} proposed: refund 120.00 CNY, "Refund"'
    # alice has no approval limit in the directory: every remedy of hers waits for approval.
    assert story[11] == f"alice: approval requested for remedy {short} (above the proposer's " \
        "limit: none)"
    assert story[12] == 'alice: closed as resolved: "Settled with the customer"'
    assert story[13].startswith("alice: satisfaction survey sent to the customer (open until ")
    assert len(story) == 14
    survey_token = next(
        e["data"]["token"] for e in client.get(f"/complaints/{cid}/history").json()["events"]
        if e["type"] == "survey_requested"
    )
    assert survey_token not in text.text  # the customer's key to the survey is not told

    # The list follows the automatic events: severity, tags, version.
    client.post("/complaints", json=intake(region="west"))  # another, untagged
    services.runner(["complaint_list"]).catch_up()
    listed = client.get("/complaints", params={"tag": "legal_risk"}).json()["items"]
    assert [(i["id"], i["tags"], i["severity"]) for i in listed] == [
        (cid, ["legal_risk", "media_risk"], "high")
    ]
    assert listed[0]["version"] == client.get(f"/complaints/{cid}").json()["version"]
    assert client.get("/complaints", params={"tag": "legal"}).json()["items"] == []
    bad = client.get("/complaints", params={"tag": "Legal Risk"})
    assert bad.status_code == 422 and "tag" in bad.text

    dossier = client.get(f"/complaints/{cid}/dossier").json()
    assert [line["text"] for line in dossier["story"]] == lines[3:]
    assert dossier["story"][3]["rule"] == "legal-risk@v0"
    html = client.get(f"/complaints/{cid}/dossier", params={"format": "html"}).text
    assert "severity raised from medium to high" in html


def test_every_event_type_has_a_sentence() -> None:
    from queries.history import EVENT_TYPES
    from queries.story import SENTENCES

    assert set(SENTENCES) == set(EVENT_TYPES.values())


def test_a_story_shows_personal_fields_only_as_its_reader_may_see_them(
    client: TestClient, services: Services
) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    client.post(
        f"/complaints/{cid}/comments", json={"body": "Call 张伟 back", "visibility": "internal"}
    )
    history = get_history(services.app, UUID(cid))
    masked, _ = disclose_all(
        (e, event_paths(QUALNAMES.get(e.type, ""), within="data"), ALL_FIELDS)
        for e in history.events
    )
    told = render_text(history, tell(history.model_copy(update={"events": masked})))
    assert "张*" in told and "[masked]" in told
    assert "张伟" not in told


def test_an_event_type_without_a_sentence_still_gets_a_line() -> None:
    later = HistoryEvent(
        version=4, type="refund_issued", occurred_at=datetime(2026, 11, 27, 8, tzinfo=UTC),
        actor="li.na", correlation_id="c", causation_id="r", position=None,
        data={"kind": "refund", "amount": "50.00", "rule": None, "reason": "Broken twice"},
    )
    history = History(complaint_id=uuid4(), reference="C-AAAA-BBBB", events=[later],
                      chain_verified=True, chain_breaks=[])
    assert tell(history)[0].text == (
        '2026-11-27 08:00:00 UTC  #4  li.na: refund issued (kind="refund", amount="50.00") '
        "because Broken twice"
    )
