"""Automation rules end to end, on SQLite and PostgreSQL: the shipped defaults (legal, media,
repeat customer), switching one off, a custom rule naming its version and cause, the dry-run,
follow-ups taken up by the deadline watcher (or not, when their condition no longer holds), and
the human tag and severity routes that override what a rule did."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from aggregates.complaint import Complaint
from aggregates.event_ids import event_id
from commands.application import ComplaintsApp
from commands.customer_history import PriorComplaint
from infra.bootstrap import Services
from projections.deadlines import DeadlineWatcher
from projections.registry import build
from projections.runner import Runner
from tests.intake import intake
from tests.manual_clock import Clock


def file(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/complaints", json=intake(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def events(app: ComplaintsApp, cid: str | UUID) -> list[Any]:
    return list(app.events.get(UUID(str(cid))))


def by_rule(app: ComplaintsApp, cid: str, prefix: str) -> list[Any]:
    return [e for e in events(app, cid) if (getattr(e, "rule", None) or "").startswith(prefix)]


class RecentComplaints:
    """A customer-history fake: ``count`` earlier complaints in the last days."""

    def __init__(self, count: int) -> None:
        self.count = count

    def prior(
        self, customer_id: str, order_number: str | None, since: datetime
    ) -> Sequence[PriorComplaint]:
        now = datetime.now(UTC)
        return [PriorComplaint(uuid4(), "C-XXXX-XXXX", customer_id, None,
                               now - timedelta(days=1 + i), None) for i in range(self.count)]


def test_shipped_defaults_act_and_name_their_cause(client: TestClient, app: ComplaintsApp) -> None:
    # Legal: at filing, from the description; severity raised with the SLA terms re-applied.
    legal = file(client, severity="low", description="再不处理我就去法院起诉你们")
    assert legal["severity"] == "high" and legal["tags"] == ["legal_risk"]
    filed = events(app, legal["id"])[0]
    acted = by_rule(app, legal["id"], "legal-risk@v0")
    assert [type(e).__name__ for e in acted] == [
        "SeverityChanged", "Tagged", "NotificationRequested"]
    assert {(e.actor, e.causation_id) for e in acted} == {
        ("automation", str(event_id(filed.originator_id, 1)))}
    reapplied = [e for e in events(app, legal["id"]) if isinstance(e, Complaint.SlaApplied)]
    assert len(reapplied) == 2 and reapplied[1].reason and reapplied[1].actor == "automation"

    # Media: on a comment; "issue" is not "sue".
    quiet = file(client, severity="medium", description="There is an issue with my order")
    assert quiet["tags"] == [] and quiet["severity"] == "medium"
    commented = client.post(f"/complaints/{quiet['id']}/comments",
                            json={"body": "我会找记者曝光", "visibility": "internal"})
    assert commented.status_code == 200 and commented.json()["tags"] == ["media_risk"]

    # Repeat customer: three earlier complaints in 30 days, so this is the fourth... not more
    # than three; a fourth earlier one makes it five.
    app.automation.disabled = frozenset()  # off for the other tests (tests/conftest.py)
    app.customer_history = RecentComplaints(2)
    assert file(client)["tags"] == []
    app.customer_history = RecentComplaints(3)
    assert file(client)["tags"] == ["high_attention"]


def test_a_default_switched_off_and_a_custom_rule(client: TestClient, app: ComplaintsApp) -> None:
    listed = client.get("/automation/rules").json()["rules"]
    assert [r["rule_id"] for r in listed] == ["legal-risk", "media-risk", "repeat-customer"]
    assert all(r["version"] == 0 and r["built_in"] for r in listed)
    # The tests' configuration switches repeat-customer off (tests/conftest.py), and says so.
    assert {r["rule_id"]: r["disabled_by_setting"] for r in listed} == {
        "legal-risk": False, "media-risk": False, "repeat-customer": True}

    off = client.put("/automation/rules/legal-risk",
                     json={"enabled": False, "reason": "noisy"}, headers={"If-Match": '"0"'})
    assert off.status_code == 200 and off.json()["version"] == 1
    assert not off.json()["enabled"] and off.json()["then"]  # the rest kept
    again = client.put("/automation/rules/legal-risk", json={"enabled": False})
    assert again.json()["version"] == 1  # nothing changed, nothing recorded
    assert client.put("/automation/rules/legal-risk", json={"enabled": True},
                      headers={"If-Match": '"0"'}).status_code == 412
    assert file(client, severity="low", description="I will sue you")["tags"] == []

    rule = {
        "name": "VIP product faults", "on": ["filed"],
        "if": {"all": [{"field": "tier", "eq": "vip"},
                       {"field": "category", "in": ["product_quality"]}]},
        "then": [{"add_tag": "vip_fault"}, {"escalate": {"reason": "VIP product fault"}}],
        "reason": "VIPs first",
    }
    created = client.put("/automation/rules/vip-fault", json=rule)
    assert created.status_code == 201 and created.json()["version"] == 1, created.text
    assert client.get("/automation/rules/vip-fault").json()["name"] == "VIP product faults"
    complaint = file(client)
    assert complaint["tags"] == ["vip_fault"] and complaint["escalation_level"] == 1
    (tagged, escalated) = by_rule(app, complaint["id"], "vip-fault")
    assert tagged.rule == escalated.rule == "vip-fault@v1"
    assert tagged.causation_id == str(event_id(UUID(complaint["id"]), 1))
    assert file(client, customer={**intake()["customer"], "tier": "standard"})["tags"] == []

    bad = client.put("/automation/rules/x", json={**rule, "then": [{"add_tag": "Bad"}]})
    assert bad.status_code == 422 and "then.0.add_tag" in bad.text
    assert client.put("/automation/rules/Bad!", json=rule).status_code == 422
    assert client.get("/automation/rules/nope").status_code == 404


def test_dry_run_replays_a_past_complaint(client: TestClient, app: ComplaintsApp) -> None:
    client.put("/automation/rules/legal-risk", json={"enabled": False})
    complaint = file(client, severity="low", description="ok")
    client.post(f"/complaints/{complaint['id']}/comments",
                json={"body": "my lawyer says", "visibility": "internal"})
    before = len(events(app, complaint["id"]))
    answer = client.post("/automation/rules/legal-risk/dry-run",
                         json={"complaint_id": complaint["id"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["rule"], body["version"]) == ("legal-risk", 1)
    (match,) = body["matches"]
    assert (match["event_type"], match["event_version"]) == ("commented", 3)
    assert [a["action"] for a in match["actions"]] == ["set_severity", "add_tag", "notify"]
    assert len(events(app, complaint["id"])) == before  # nothing saved
    missing = client.post("/automation/rules/legal-risk/dry-run",
                          json={"complaint_id": str(uuid4())})
    assert missing.status_code == 404


def test_follow_ups_are_taken_up_by_the_watcher_once(
    client: TestClient, services: Services
) -> None:
    app = services.app
    clock = Clock.installed(app, datetime.now(UTC))
    client.put("/automation/rules/remind", json={
        "on": ["customer_awaited"],
        "then": [{"follow_up": {
            "after": "48h", "then": [{"notify": {"template": "reminder", "audience": "customer"}}],
            "if_still": {"field": "status", "eq": "pending_customer"}}}],
    })
    waiting, answered = file(client), file(client)
    for c in (waiting, answered):
        assert client.post(f"/complaints/{c['id']}/await-customer",
                           json={"reason": "photo needed"}).status_code == 200
    client.post(f"/complaints/{answered['id']}/customer-replies",
                json={"body": "here", "channel": "phone"})
    view = Runner(app, build(["sla"]))
    watcher = DeadlineWatcher(app, services.read_models, clock=clock)

    view.catch_up()
    watcher.run_once()
    assert by_rule(app, waiting["id"], "remind")[-1].__class__ is Complaint.FollowUpScheduled
    clock.advance(timedelta(hours=48, seconds=1))
    report = watcher.run_once()
    assert set(report.followed_up) == {UUID(waiting["id"]), UUID(answered["id"])}
    for c, performed in ((waiting, True), (answered, False)):
        stored = events(app, c["id"])
        (scheduled,) = [e for e in stored if isinstance(e, Complaint.FollowUpScheduled)]
        (done,) = [e for e in stored if isinstance(e, Complaint.FollowUpDone)]
        notes = [e for e in stored if isinstance(e, Complaint.NotificationRequested)]
        cause = str(event_id(UUID(c["id"]), scheduled.originator_version))
        assert done.performed is performed and done.causation_id == cause
        assert [(n.template, n.rule, n.causation_id) for n in notes] == (
            [("reminder", "remind@v1", cause)] if performed else [])
    view.catch_up()
    assert watcher.run_once().followed_up == {}  # done once


def test_people_tag_untag_and_set_severity(client: TestClient) -> None:
    cid = file(client, severity="low")["id"]
    tagged = client.post(f"/complaints/{cid}/tags", json={"tag": "vip_watch", "reason": "CEO"})
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["vip_watch"]
    assert client.post(f"/complaints/{cid}/tags", json={"tag": "vip_watch"}).status_code == 409
    assert client.post(f"/complaints/{cid}/tags", json={"tag": "Not OK"}).status_code == 422
    untagged = client.delete(f"/complaints/{cid}/tags/vip_watch", params={"reason": "wrong"})
    assert untagged.status_code == 200 and untagged.json()["tags"] == []
    assert client.delete(f"/complaints/{cid}/tags/vip_watch").status_code == 409
    assert client.delete(f"/complaints/{cid}/tags/BAD TAG").status_code == 422
    empty = client.delete(f"/complaints/{cid}/tags/vip_watch", params={"reason": ""})
    assert empty.status_code == 422 and "reason" in empty.text  # found by the fuzzer: was a 500
    raised = client.post(f"/complaints/{cid}/severity",
                         json={"severity": "critical", "reason": "press call"})
    assert raised.status_code == 200 and raised.json()["severity"] == "critical"
    same = client.post(f"/complaints/{cid}/severity", json={"severity": "critical",
                                                           "reason": "again"})
    assert same.status_code == 409
    missing = client.post(f"/complaints/{cid}/severity", json={"severity": "urgent"})
    assert missing.status_code == 422 and "severity" in missing.text and "reason" in missing.text
