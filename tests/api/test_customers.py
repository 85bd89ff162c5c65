"""Repeat complaints over HTTP (issue 12): GET /customers/{id}, the links and tags in the
complaint's representation, and the history told as a story. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from aggregates.event_ids import event_id
from aggregates.provenance import Provenance
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
    client: TestClient, services: Services, role_tokens: dict[Role, str]
) -> None:
    filed = client.post("/complaints", json=intake(description="我要找律师起诉你们")).json()
    cid = filed["id"]
    client.post(f"/complaints/{cid}/assign", json={"assignee": "li.na", "team": "east"})
    # An automation rule's actions, planted on the aggregate as a reaction would record them.
    app = services.app
    complaint = app.get_complaint(filed_id := UUID(cid))
    rule = Provenance("automation", "corr-rule", str(event_id(filed_id, 1)), "legal-risk@v1")
    complaint.change_severity("critical", reason='the description mentions "律师"', by=rule)
    complaint.tag("legal_risk", reason="sensitive terms", by=rule)
    complaint.request_notification(
        "legal_risk_alert", audience="team_supervisor", recipient="wang.wu",
        reason="legal risk", by=rule,
    )
    app.save(complaint)
    client.post(f"/complaints/{cid}/close",
                json={"resolution_code": "resolved", "summary": "Settled with the customer"})

    text = client.get(f"/complaints/{cid}/history", params={"format": "text"})
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    lines = text.text.splitlines()
    assert lines[0] == f"Complaint {filed['reference']} ({cid})"
    story = [line.split("  ", 2)[2] for line in lines[3:]]  # without the time and version
    assert story[0].startswith(
        "alice: filed by alice via web for customer 张伟 (CUST-1001, vip): "
        '"Screen cracked on arrival" (product_quality, severity high'
    )
    assert story[1].startswith("alice: SLA terms applied: policy v0")
    assert story[2] == "alice: assigned to li.na of team east"
    because = "automation (rule legal-risk@v1), because of event 1 (filed): "
    assert story[3] == because + (
        'severity raised from high to critical because the description mentions "律师"'
    )
    assert story[4] == because + "tagged legal_risk because sensitive terms"
    assert story[5] == because + (
        "notified the team supervisor wang.wu (template legal_risk_alert) because legal risk"
    )
    assert story[6] == 'alice: closed as resolved: "Settled with the customer"'
    assert len(story) == 7

    # The list follows the automatic events: severity, tags, version.
    client.post("/complaints", json=intake())  # another, untagged
    services.runner(["complaint_list"]).catch_up()
    listed = client.get("/complaints", params={"tag": "legal_risk"}).json()["items"]
    assert [(i["id"], i["tags"], i["severity"]) for i in listed] == [
        (cid, ["legal_risk"], "critical")
    ]
    assert listed[0]["version"] == client.get(f"/complaints/{cid}").json()["version"]
    assert client.get("/complaints", params={"tag": "legal"}).json()["items"] == []
    bad = client.get("/complaints", params={"tag": "Legal Risk"})
    assert bad.status_code == 422 and "tag" in bad.text

    dossier = client.get(f"/complaints/{cid}/dossier").json()
    assert [line["text"] for line in dossier["story"]] == lines[3:]
    assert dossier["story"][3]["rule"] == "legal-risk@v1"
    html = client.get(f"/complaints/{cid}/dossier", params={"format": "html"}).text
    assert "severity raised from high to critical" in html


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
        version=4, type="remedy_proposed", occurred_at=datetime(2026, 11, 27, 8, tzinfo=UTC),
        actor="li.na", correlation_id="c", causation_id="r", position=None,
        data={"kind": "refund", "amount": "50.00", "rule": None, "reason": "Broken twice"},
    )
    history = History(complaint_id=uuid4(), reference="C-AAAA-BBBB", events=[later],
                      chain_verified=True, chain_breaks=[])
    assert tell(history)[0].text == (
        '2026-11-27 08:00:00 UTC  #4  li.na: remedy proposed (kind="refund", amount="50.00") '
        "because Broken twice"
    )
