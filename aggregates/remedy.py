"""Remedies (issue 12, the closed loop): what the company offers a complaining customer, and where
each offer stands. A ``Remedy`` is the complaint's record of one offer, built by the complaint's
closed-loop events; the rules of its order live on ``Complaint`` (``propose_remedy`` ...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aggregates.money import Money


class RemedyStatus(StrEnum):
    PROPOSED = "proposed"
    """Within the proposer's approval limit: offered to the customer."""
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    """Approved by someone whose limit covers it: offered to the customer."""
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    FULFILLED = "fulfilled"


OPEN = frozenset(
    {
        RemedyStatus.PROPOSED,
        RemedyStatus.AWAITING_APPROVAL,
        RemedyStatus.APPROVED,
        RemedyStatus.ACCEPTED,
    }
)
"""A complaint has at most one remedy in these states; a new one waits until it is settled."""
OFFERED = frozenset({RemedyStatus.PROPOSED, RemedyStatus.APPROVED})
"""What the customer may accept or decline."""
SHOWN_TO_CUSTOMER = frozenset(
    set(RemedyStatus) - {RemedyStatus.AWAITING_APPROVAL, RemedyStatus.REJECTED}
)
"""Internal deliberation (waiting for, or refused, approval) is not the customer's business."""


@dataclass(frozen=True)
class Remedy:
    id: str
    kind: str
    amount: str | None
    """Two decimals as text (``"120.00"``), like ``Money.to_json``; ``None`` (an apology)."""
    currency: str | None
    description: str
    status: str
    proposed_by: str
    proposed_at: datetime
    updated_at: datetime
    decided_by: str | None = None
    """Who approved or rejected it (``None``: within the proposer's limit, or not decided)."""
    rejection_reason: str | None = None
    customer_reason: str | None = None
    """Why the customer declined it."""
    fulfilment_note: str | None = None

    @property
    def money(self) -> Money | None:
        if self.amount is None or self.currency is None:
            return None
        return Money.from_json({"amount": self.amount, "currency": self.currency})

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


def within_limit(limit: Money | None, money: Money | None) -> bool:
    """Whether ``limit`` covers ``money``: no limit covers nothing; an amountless remedy (an
    apology) is covered by any limit."""
    if limit is None:
        return False
    return money is None or limit.covers(money)


@dataclass(frozen=True)
class CustomerReply:
    """One answer of the customer (``Complaint.CustomerReplied``), keyed by staff or sent by
    the customer through the tracking page."""

    id: str
    body: str
    channel: str
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class Survey:
    """The satisfaction survey a close issued (``Complaint.SurveyRequested``)."""

    token: str
    expires_at: datetime
    answered_at: datetime | None = None
