"""Pure domain tests: every event and every illegal transition of the Complaint aggregate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aggregates.complaint import MAX_ESCALATION_LEVEL, Complaint
from aggregates.errors import IllegalTransitionError, InvalidIntakeError
from aggregates.provenance import Provenance
from aggregates.values import Attachment, Comment, Customer, Product

BY = Provenance(actor="alice", correlation_id="corr-1", causation_id="req-1")
RECEIVED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def intake(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "reference": "C-7KQ4-MZ9P",
        "customer": Customer(id="CUST-1", name="张伟", phone="13800138000", tier="vip"),
        "product": Product(name="X9 phone", order_number="SO-1"),
        "category": "product_quality",
        "subject": "Screen cracked",
        "description": "Arrived cracked",
        "channel": "web",
        "severity": "high",
        "received_at": RECEIVED,
    }
    fields.update(overrides)
    return fields


def filed(**overrides: Any) -> Complaint:
    return Complaint.file(by=BY, **intake(**overrides))


def closed() -> Complaint:
    c = filed()
    c.close("resolved", "done", by=BY)
    return c


def test_filed_records_intake_and_provenance() -> None:
    c = filed(received_by="bob")
    (event,) = c.pending_events
    assert isinstance(event, Complaint.Filed)
    assert (event.actor, event.correlation_id, event.causation_id) == ("alice", "corr-1", "req-1")
    assert event.received_at == RECEIVED and event.received_by == "bob"
    assert c.status == "new" and c.assignee is None and c.escalation_level == 0
    assert c.customer.tier == "vip" and c.reference == "C-7KQ4-MZ9P"
    assert c.version == 1


def test_received_by_defaults_to_the_actor_and_tier_to_standard() -> None:
    c = filed(customer=Customer(id="C", name="N", email="n@example.com"))
    assert c.received_by == "alice"
    assert c.customer.tier == "standard"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer": Customer(id="", name="N", phone="1")}, "customer.id"),
        ({"customer": Customer(id="C", name=" ", phone="1")}, "customer.name"),
        ({"customer": Customer(id="C", name="N")}, "customer"),
        ({"customer": Customer(id="C", name="N", phone="1", tier="gold")}, "customer.tier"),
        ({"category": "weather"}, "category"),
        ({"channel": "pigeon"}, "channel"),
        ({"severity": "urgent"}, "severity"),
        ({"expected_remedy": "money"}, "expected_remedy"),
        ({"subject": ""}, "subject"),
        ({"description": "  "}, "description"),
        ({"received_at": datetime(2026, 1, 1)}, "received_at"),
        ({"occurred_at": datetime(2026, 1, 1)}, "occurred_at"),
        ({"occurred_at": datetime(2026, 11, 20, 3, 0, tzinfo=UTC)}, "occurred_at"),
    ],
)
def test_filing_enforces_required_fields_and_vocabularies(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidIntakeError) as error:
        filed(**overrides)
    assert error.value.field == field


def test_assigned_moves_new_to_assigned_and_records_team_and_reason() -> None:
    c = filed()
    c.assign("bob", team="east", reason="region", by=BY)
    event = c.pending_events[-1]
    assert isinstance(event, Complaint.Assigned)
    assert (event.assignee, event.team, event.reason) == ("bob", "east", "region")
    assert (c.status, c.assignee, c.team) == ("assigned", "bob", "east")


def test_reassigning_to_the_same_owner_is_refused() -> None:
    c = filed()
    c.assign("bob", team="east", by=BY)
    with pytest.raises(IllegalTransitionError, match="already assigned"):
        c.assign("bob", team="east", by=BY)
    c.assign("carol", team="east", by=BY)
    assert c.assignee == "carol"


def test_customer_visible_comment_sets_first_response_once() -> None:
    c = filed()
    c.comment("checking", visibility="internal", by=BY)
    assert c.first_response_at is None
    c.comment("we are on it", visibility="customer", by=BY)
    first = c.first_response_at
    assert first is not None
    c.comment("update", visibility="customer", by=BY)
    assert c.first_response_at == first
    assert [x.visibility for x in c.comments] == ["internal", "customer", "customer"]
    assert isinstance(c.pending_events[-1], Complaint.Commented)


def test_comment_visibility_must_be_known() -> None:
    with pytest.raises(InvalidIntakeError):
        filed().comment("x", visibility="public", by=BY)


def test_escalation_only_rises_with_a_reason() -> None:
    c = filed()
    c.escalate("angry customer", by=BY)
    assert c.escalation_level == 1
    c.escalate("media", level=3, by=BY)
    assert c.escalation_level == 3
    event = c.pending_events[-1]
    assert isinstance(event, Complaint.Escalated) and event.level == 3 and event.reason == "media"
    with pytest.raises(IllegalTransitionError, match="only rises"):
        c.escalate("again", level=2, by=BY)
    with pytest.raises(IllegalTransitionError, match="only rises"):
        c.escalate("same", level=3, by=BY)
    with pytest.raises(InvalidIntakeError):
        c.escalate("", by=BY)
    with pytest.raises(IllegalTransitionError, match="exceed"):
        c.escalate("too far", level=MAX_ESCALATION_LEVEL + 1, by=BY)


def test_closed_needs_known_code_and_summary() -> None:
    c = filed()
    with pytest.raises(InvalidIntakeError):
        c.close("fixed", "done", by=BY)
    with pytest.raises(InvalidIntakeError):
        c.close("resolved", "", by=BY)
    # remedy_provided needs a fulfilled remedy first (tests/unit/test_remedies.py).
    c.close("resolved", "replaced the phone", by=BY)
    assert (c.status, c.resolution_code, c.resolution_summary) == (
        "closed",
        "resolved",
        "replaced the phone",
    )
    assert c.closed_at == c.pending_events[-1].timestamp


@pytest.mark.parametrize(
    "action",
    [
        lambda c: c.comment("hello", visibility="customer", by=BY),
        lambda c: c.escalate("late", by=BY),
        lambda c: c.close("resolved", "again", by=BY),
        lambda c: c.assign("bob", by=BY),
    ],
    ids=["comment", "escalate", "close-twice", "assign"],
)
def test_closed_complaint_refuses_changes(action: Any) -> None:
    c = closed()
    with pytest.raises(IllegalTransitionError):
        action(c)


def test_reopening_an_open_complaint_is_refused() -> None:
    with pytest.raises(IllegalTransitionError, match="only a closed"):
        filed().reopen("why", by=BY)


def test_reopened_returns_to_assigned_when_owned_else_new() -> None:
    owned = filed()
    owned.assign("bob", by=BY)
    owned.close("resolved", "ok", by=BY)
    owned.reopen("not fixed", by=BY)
    assert (owned.status, owned.reopen_count, owned.resolution_code) == ("assigned", 1, None)

    unowned = closed()
    unowned.reopen("not fixed", by=BY)
    assert unowned.status == "new" and unowned.closed_at is None
    assert isinstance(unowned.pending_events[-1], Complaint.Reopened)


def test_replaying_events_rebuilds_the_same_state() -> None:
    c = filed()
    c.assign("bob", by=BY)
    c.comment("hi", visibility="customer", by=BY)
    c.escalate("x", by=BY)
    c.close("resolved", "ok", by=BY)
    c.reopen("again", by=BY)
    replayed = None
    for event in c.collect_events():
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert vars(replayed) == vars(c)


def test_filed_stores_the_value_objects_as_plain_json_objects() -> None:
    photo = Attachment(name="photo.jpg", content_type="image/jpeg", size=5, sha256="a" * 64)
    c = filed(attachments=[photo])
    (event,) = c.pending_events
    assert isinstance(event, Complaint.Filed)
    assert event.customer == {
        "id": "CUST-1", "name": "张伟", "company": None, "phone": "13800138000", "email": None,
        "tier": "vip",
    }
    assert event.product["order_number"] == "SO-1"
    assert event.attachments == [
        {"name": "photo.jpg", "content_type": "image/jpeg", "size": 5, "sha256": "a" * 64}
    ]
    assert c.attachments == (photo,)
    assert c.customer == Customer(id="CUST-1", name="张伟", phone="13800138000", tier="vip")


def test_sparse_stored_objects_read_with_their_defaults() -> None:
    assert Product.from_json({"name": "X9"}) == Product(name="X9")
    assert Customer.from_json({"id": "C", "name": "N", "tier": "vip"}).email is None


def test_unknown_keys_of_a_stored_object_are_ignored() -> None:
    assert Product.from_json({"name": "X9", "colour": "red"}) == Product(name="X9")
    with pytest.raises(TypeError):
        Customer.from_json({"name": "N", "colour": "red"})


def test_a_comment_is_kept_as_a_value_with_its_author_and_time() -> None:
    c = filed()
    c.comment("on it", visibility="customer", by=BY)
    event = c.pending_events[-1]
    assert isinstance(event, Complaint.Commented)
    assert c.comments == [
        Comment(event.comment_id, "on it", "customer", "alice", event.timestamp)
    ]
