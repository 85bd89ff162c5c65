"""The rules of who sees which personal field in clear, and the masking function (pure)."""

from __future__ import annotations

import uuid

import pytest

from aggregates.personal_data import CONTACT_FIELDS, ERASED, MASKED
from queries.disclosure import (
    ALL_FIELDS,
    COMPLAINT,
    NOTHING,
    Holding,
    Viewer,
    disclose,
    event_paths,
    withheld,
    withheld_on_stream,
)

HOLDING = Holding(uuid.uuid4(), "CUST-1", assignee="bob", team="east")
CONTACT = frozenset(CONTACT_FIELDS)


@pytest.mark.parametrize(
    ("viewer", "hidden"),
    [
        (Viewer("carol", "compliance"), NOTHING),
        (Viewer("bob", "agent"), NOTHING),
        (Viewer("alice", "agent"), CONTACT),
        (Viewer("sue", "supervisor", teams=("east",)), NOTHING),
        (Viewer("sam", "supervisor", teams=("west",)), CONTACT),
        (Viewer("ann", "analyst"), ALL_FIELDS),
        (Viewer("ann", "analyst", grants=frozenset({"personal_data"})), NOTHING),
        (Viewer("svc", "service"), ALL_FIELDS),
        (Viewer("root", "admin"), ALL_FIELDS),
        (Viewer("root", "admin", grants=frozenset({"personal_data"})), NOTHING),
        (Viewer("who", "unknown-role"), ALL_FIELDS),
    ],
)
def test_who_sees_which_fields_masked(viewer: Viewer, hidden: frozenset[str]) -> None:
    assert withheld(viewer, HOLDING) == hidden


def test_a_supervisor_sees_complaints_not_yet_routed_to_a_team_in_clear() -> None:
    unrouted = Holding(uuid.uuid4(), "CUST-1", assignee=None, team=None)
    assert withheld(Viewer("sam", "supervisor", teams=("west",)), unrouted) == NOTHING


def test_the_stream_is_all_or_nothing() -> None:
    assert withheld_on_stream(Viewer("bob", "agent")) == ALL_FIELDS
    assert withheld_on_stream(Viewer("carol", "compliance")) == NOTHING


def filed() -> dict[str, object]:
    return {
        "customer": {"id": "C", "name": "Jane Doe", "phone": "13800138000", "email": ERASED},
        "description": "text",
        "location": None,
        "comments": [{"body": "one"}, {"body": ERASED}],
    }


def test_masking_copies_and_names_what_stays_in_clear() -> None:
    original = filed()
    shown, fields = disclose(original, COMPLAINT, CONTACT)
    assert shown["customer"] == {  # type: ignore[index]
        "id": "C",
        "name": "Jane Doe",
        "phone": "138****8000",
        "email": ERASED,
    }
    assert original == filed()  # untouched
    assert fields == {"customer.name", "description", "body"}  # no location, nothing erased


def test_free_text_is_masked_and_erased_values_stay_erased() -> None:
    shown, fields = disclose(filed(), COMPLAINT, ALL_FIELDS)
    assert shown["description"] == MASKED  # type: ignore[index]
    assert shown["comments"] == [{"body": MASKED}, {"body": ERASED}]  # type: ignore[index]
    assert shown["location"] is None  # type: ignore[index]
    assert fields == NOTHING


def test_event_paths_follow_the_personal_fields_table() -> None:
    assert event_paths("Complaint.Commented", within="data") == (("data.body", "body"),)
    assert event_paths("Complaint.Assigned") == ()
