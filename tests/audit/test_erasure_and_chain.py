"""Erasure destroys a customer's data key and appends events; it rewrites no stored event, so
the whole store still verifies, and the dossier of an erased complaint shows ``[erased]``
wherever the customer's personal data were."""

from __future__ import annotations

from fastapi.testclient import TestClient

from aggregates.personal_data import ERASED
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import CommentOnComplaint, FileComplaint
from infra.bootstrap import Services
from tests.intake import INTAKE, intake


def test_after_an_erasure_the_store_verifies_and_the_dossier_reads_erased(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, services: Services
) -> None:
    compliance = {"Authorization": f"Bearer {app.tokens.issue('cora', 'compliance', ctx).secret}"}
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    app.handle(cid, CommentOnComplaint(body="Called back", visibility="internal"), ctx)
    services.checkpoints.record(ctx)  # covers the events erasure must leave as they were

    erased = client.post(
        "/customers/CUST-1001/erase", json={"reason": "request #7"}, headers=compliance
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["complaint_ids"] == [str(cid)]

    verified = client.get("/audit/verify", headers=compliance)
    assert verified.status_code == 200
    report = verified.json()
    assert (report["ok"], report["breaks"], report["checkpoints_checked"]) == (True, [], 1)

    answer = client.get(f"/complaints/{cid}/dossier", headers=compliance)
    assert answer.status_code == 200, answer.text
    dossier = answer.json()
    assert dossier["chain_verified"] is True
    filed = dossier["intake"]
    personal = [filed["customer"][f] for f in ("name", "phone", "email")]
    assert set(personal + [filed["description"], filed["location"]]) == {ERASED}
    assert dossier["events"][0]["data"] == filed
    commented = [e for e in dossier["events"] if e["type"] == "commented"]
    assert [e["data"]["body"] for e in commented] == [ERASED]
    assert dossier["events"][-1]["type"] == "personal_data_erased"
    complaint = dossier["complaint"]
    assert (complaint["customer"]["name"], complaint["description"]) == (ERASED, ERASED)
    assert [c["body"] for c in complaint["comments"]] == [ERASED]
    assert complaint["subject"] == INTAKE["subject"]  # not personal: kept
    for word in ("张伟", "13800138000", "zhang.wei@example.com", "parcel", "Shanghai", "Called"):
        assert word not in answer.text, word
