"""Pure domain tests: erasing a complaint's personal data, and the customer's erasure record."""

from __future__ import annotations

import pytest

from aggregates.complaint import Complaint
from aggregates.erasure_record import ErasureRecord, erasure_record_id
from aggregates.errors import InvalidIntakeError
from aggregates.personal_data import ERASED
from aggregates.values import Customer
from tests.unit.test_complaint import BY, filed


def commented() -> Complaint:
    c = filed(location="Shanghai", customer=Customer(id="CUST-1", name="张伟", phone="138"))
    c.comment("Called her on 138", visibility="internal", by=BY)
    return c


def test_erasure_replaces_every_personal_value_and_keeps_the_rest() -> None:
    c = commented()
    c.erase_personal_data("request #1", by=BY)
    assert isinstance(c.pending_events[-1], Complaint.PersonalDataErased)
    assert (c.customer.name, c.customer.phone, c.customer.email) == (ERASED, ERASED, None)
    assert (c.description, c.location) == (ERASED, ERASED)
    assert [comment.body for comment in c.comments] == [ERASED]
    assert (c.customer.id, c.subject, c.status, len(c.comments)) == (
        "CUST-1",
        "Screen cracked",
        "new",
        1,
    )


def test_a_complaint_holds_personal_data_until_erased_and_again_once_commented() -> None:
    c = commented()
    assert c.holds_personal_data
    c.erase_personal_data("request #1", by=BY)
    assert not c.holds_personal_data
    c.comment("New note", visibility="internal", by=BY)
    assert c.holds_personal_data


def test_an_erasure_needs_a_reason() -> None:
    with pytest.raises(InvalidIntakeError) as raised:
        commented().erase_personal_data(" ", by=BY)
    assert raised.value.field == "reason"


def test_a_customer_has_one_erasure_record_counting_their_erasures() -> None:
    record = ErasureRecord.open("CUST-1")
    assert record.id == erasure_record_id("CUST-1") != erasure_record_id("CUST-2")
    record.record_erasure("request #1", complaint_ids=[], data_key_ids=["k2", "k1"], by=BY)
    event = record.pending_events[-1]
    assert isinstance(event, ErasureRecord.CustomerDataErased)
    assert (event.data_key_ids, event.actor, record.erasures) == (["k1", "k2"], "alice", 1)
