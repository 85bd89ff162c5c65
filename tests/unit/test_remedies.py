"""The closed loop on the aggregate (issue 12): the order of a remedy's steps, approval limits,
closing with ``remedy_provided``, the access code and the survey."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from aggregates.access_code import AccessCode, digest_of, new_access_code
from aggregates.complaint import Complaint
from aggregates.errors import (
    IllegalTransitionError,
    InvalidIntakeError,
    RemedyNotFoundError,
    SurveyNotFoundError,
)
from aggregates.money import Money
from aggregates.personal_data import ERASED
from aggregates.provenance import Provenance
from tests.unit.test_complaint import BY, filed

BOSS = Provenance("boss", "corr-2")
CUSTOMER = Provenance("customer", "corr-3")
CNY = "CNY"


def money(amount: str) -> Money:
    return Money.of(amount, CNY)


def status(c: Complaint, remedy_id: str) -> str:
    return c.remedy(remedy_id).status


def replayed(c: Complaint) -> Complaint:
    """The complaint rebuilt from its events: ``apply`` alone gives the same remedies."""
    copy: Complaint | None = None
    for event in c.collect_events():
        copy = event.mutate(copy)  # type: ignore[attr-defined]
    assert copy is not None
    return copy


def test_within_the_limit_a_remedy_is_offered_at_once() -> None:
    c = filed()
    rid = c.propose_remedy(
        "refund", money=money("50.00"), description="refund", limit=money("100"), by=BY
    )
    assert [type(e).__name__ for e in c.pending_events[1:]] == ["RemedyProposed"]
    assert status(c, rid) == "proposed"
    c.accept_remedy(rid, by=CUSTOMER)
    c.fulfil_remedy(rid, "paid", by=BY)
    assert status(c, rid) == "fulfilled" and c.remedy(rid).fulfilment_note == "paid"
    assert replayed(c).remedies == c.remedies


@pytest.mark.parametrize(
    ("limit", "amount"),
    [(None, "1.00"), (Money.of("100", CNY), "100.01"), (Money.of("500", "USD"), "1.00")],
)
def test_above_the_limit_or_without_one_it_awaits_approval(
    limit: Money | None, amount: str
) -> None:
    c = filed()
    rid = c.propose_remedy("refund", money=money(amount), description="d", limit=limit, by=BY)
    requested = c.pending_events[-1]
    assert isinstance(requested, Complaint.ApprovalRequested)
    assert requested.limit == (limit.to_json() if limit else None)
    assert status(c, rid) == "awaiting_approval"
    with pytest.raises(IllegalTransitionError, match="offered"):
        c.accept_remedy(rid, by=CUSTOMER)


def test_an_apology_needs_no_amount_but_other_kinds_do() -> None:
    c = filed()
    with pytest.raises(InvalidIntakeError, match="amount"):
        c.propose_remedy("refund", money=None, description="d", limit=None, by=BY)
    with pytest.raises(InvalidIntakeError, match="kind"):
        c.propose_remedy("voucher", money=None, description="d", limit=None, by=BY)
    rid = c.propose_remedy("apology", money=None, description="sorry", limit=money("0"), by=BY)
    assert status(c, rid) == "proposed" and c.remedy(rid).amount is None
    # Without any limit, even an apology needs approval.
    other = filed()
    rid = other.propose_remedy("apology", money=None, description="sorry", limit=None, by=BY)
    assert status(other, rid) == "awaiting_approval"


def test_approval_needs_another_person_whose_limit_covers_it() -> None:
    c = filed()
    rid = c.propose_remedy("refund", money=money("800"), description="d", limit=money("500"), by=BY)
    with pytest.raises(IllegalTransitionError, match="proposer"):
        c.approve_remedy(rid, limit=money("10000"), by=BY)
    with pytest.raises(IllegalTransitionError, match="does not cover"):
        c.approve_remedy(rid, limit=money("799.99"), by=BOSS)
    with pytest.raises(IllegalTransitionError, match="none"):
        c.reject_remedy(rid, "too much", limit=None, by=BOSS)
    c.approve_remedy(rid, limit=money("1000"), by=BOSS)
    assert status(c, rid) == "approved" and c.remedy(rid).decided_by == "boss"
    with pytest.raises(IllegalTransitionError, match="not awaiting approval"):
        c.approve_remedy(rid, limit=money("1000"), by=BOSS)


def test_one_open_remedy_at_a_time_a_declined_or_rejected_one_frees_the_way() -> None:
    c = filed()
    first = c.propose_remedy("refund", money=money("800"), description="d", limit=None, by=BY)
    with pytest.raises(IllegalTransitionError, match="still awaiting_approval"):
        c.propose_remedy("repair", money=money("1"), description="d", limit=None, by=BY)
    c.reject_remedy(first, "too much", limit=money("1000"), by=BOSS)
    second = c.propose_remedy(
        "repair", money=money("10"), description="d", limit=money("50"), by=BY
    )
    with pytest.raises(IllegalTransitionError, match="still proposed"):
        c.propose_remedy("repair", money=money("1"), description="d", limit=None, by=BY)
    c.decline_remedy(second, "I want a refund", by=CUSTOMER)
    third = c.propose_remedy("refund", money=money("20"), description="d", limit=money("50"), by=BY)
    c.accept_remedy(third, by=CUSTOMER)
    with pytest.raises(IllegalTransitionError, match="still accepted"):
        c.propose_remedy("repair", money=money("1"), description="d", limit=None, by=BY)
    assert [r.status for r in c.remedies] == ["rejected", "declined", "accepted"]
    assert c.remedy(first).rejection_reason == "too much"
    assert c.remedy(second).customer_reason == "I want a refund"
    assert replayed(c).remedies == c.remedies


def test_only_an_accepted_remedy_is_fulfilled_and_unknown_ids_are_not_found() -> None:
    c = filed()
    rid = c.propose_remedy("refund", money=money("5"), description="d", limit=money("50"), by=BY)
    with pytest.raises(IllegalTransitionError, match="only an accepted"):
        c.fulfil_remedy(rid, None, by=BY)
    c.decline_remedy(rid, "no", by=CUSTOMER)
    with pytest.raises(IllegalTransitionError):
        c.accept_remedy(rid, by=CUSTOMER)
    with pytest.raises(RemedyNotFoundError):
        c.accept_remedy("0" * 32, by=CUSTOMER)


def test_remedy_provided_needs_a_fulfilled_remedy() -> None:
    c = filed()
    rid = c.propose_remedy("refund", money=money("5"), description="d", limit=money("50"), by=BY)
    c.accept_remedy(rid, by=CUSTOMER)
    with pytest.raises(IllegalTransitionError, match="remedy_provided"):
        c.close("remedy_provided", "paid", by=BY)
    c.fulfil_remedy(rid, None, by=BY)
    c.close("remedy_provided", "paid", by=BY)
    with pytest.raises(IllegalTransitionError, match="closed"):
        c.propose_remedy("apology", money=None, description="d", limit=money("1"), by=BY)


def test_a_customer_may_write_unprompted_but_not_after_the_close() -> None:
    c = filed()
    reply = {"channel": "web", "paused_seconds": None, "resolution": None, "by": CUSTOMER}
    with pytest.raises(IllegalTransitionError, match="not waiting"):
        c.record_customer_reply("hello", resumed_at=c.received_at, **reply)  # type: ignore[arg-type]
    c.record_customer_reply(
        "hello", resumed_at=c.received_at, unprompted=True, **reply  # type: ignore[arg-type]
    )
    assert c.status == "new" and [r.body for r in c.customer_replies] == ["hello"]
    c.close("resolved", "done", by=BY)
    with pytest.raises(IllegalTransitionError, match="closed"):
        c.record_customer_reply(
            "again", resumed_at=c.received_at, unprompted=True, **reply  # type: ignore[arg-type]
        )


def test_the_access_code_matches_only_itself_and_is_stored_as_a_digest() -> None:
    code = new_access_code()
    assert len(code.replace("-", "")) == 16
    access = AccessCode.issue(uuid4(), code)
    assert code not in repr(access.collect_events()) and code not in access.digest
    assert access.matches(code) and access.matches(code.lower().replace("-", ""))
    assert not access.matches(new_access_code()) and not access.matches("")
    assert digest_of(code) != digest_of(code)  # salted


def test_a_survey_is_answered_once_before_it_expires() -> None:
    c = filed()
    with pytest.raises(IllegalTransitionError):
        c.request_survey("tok", expires_at=c.received_at, by=BY)
    c.close("resolved", "done", by=BY)
    now = c.closed_at
    assert now is not None
    c.request_survey("tok", expires_at=now + timedelta(days=1), by=BY)
    answer = {"csat": 4, "nps": 9, "comment": None, "by": CUSTOMER}
    with pytest.raises(SurveyNotFoundError):
        c.record_satisfaction("other", now=now, **answer)  # type: ignore[arg-type]
    with pytest.raises(SurveyNotFoundError):
        c.record_satisfaction(
            "tok", now=now + timedelta(days=2), **answer  # type: ignore[arg-type]
        )
    assert c.survey_open(now)
    c.record_satisfaction("tok", now=now, **answer)  # type: ignore[arg-type]
    assert not c.survey_open(now)
    with pytest.raises(IllegalTransitionError, match="already answered"):
        c.record_satisfaction("tok", now=now, **answer)  # type: ignore[arg-type]
    # Reopen and close again: a new survey supersedes the old token.
    c.reopen("again", by=BY)
    c.close("resolved", "done", by=BY)
    c.request_survey("tok2", expires_at=now + timedelta(days=1), by=BY)
    with pytest.raises(SurveyNotFoundError):
        c.record_satisfaction("tok", now=now, **answer)  # type: ignore[arg-type]
    c.record_satisfaction("tok2", now=now, **answer)  # type: ignore[arg-type]


def test_erasure_reaches_the_customers_replies_and_decline_reasons() -> None:
    c = filed()
    rid = c.propose_remedy("refund", money=money("5"), description="d", limit=money("50"), by=BY)
    c.decline_remedy(rid, "call me on 139", by=CUSTOMER)
    c.record_customer_reply(
        "my address is ...", channel="web", resumed_at=c.received_at, paused_seconds=None,
        resolution=None, by=CUSTOMER, unprompted=True,
    )
    c.erase_personal_data("request", by=BY)
    assert c.remedy(rid).customer_reason == ERASED
    assert [r.body for r in c.customer_replies] == [ERASED]
    assert not c.holds_personal_data
