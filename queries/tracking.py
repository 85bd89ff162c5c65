"""What a customer sees of their complaint on the tracking page (``GET /track/{reference}``,
the access code instead of a token).

Built field by field from an allow-list, never by trimming the staff representation: the status,
the filing's category and subject, the times, the comments meant for the customer (their
author's display name from the directory, else "Customer service"), the customer's own replies,
the remedies offered (not those waiting for or refused approval), the resolution promise and
whether a survey waits for an answer. Never internal comments, tags, staff principal names, the
team, escalation, the customer's contact details or anything of another complaint.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from aggregates.complaint import Complaint
from aggregates.remedy import SHOWN_TO_CUSTOMER
from aggregates.vocabulary import Visibility
from commands.application import ComplaintsApp
from commands.directory_lookup import DirectoryLookup

STAFF_NAME = "Customer service"
"""The author shown for a staff member the directory has no display name for."""


class TrackedMessage(BaseModel):
    body: str
    author: str
    created_at: datetime


class TrackedRemedy(BaseModel):
    id: str = Field(description="What accept and decline name")
    kind: str
    amount: str | None
    currency: str | None
    description: str
    status: str = Field(description="proposed | approved (offered), accepted, declined, fulfilled")


class Tracking(BaseModel):
    reference: str
    status: str
    category: str
    subject: str
    filed_at: datetime
    closed_at: datetime | None
    resolution_due_at: datetime | None = Field(
        description="When we promised a resolution (moved by waits for your answer); null "
        "without a promise"
    )
    comments: list[TrackedMessage] = Field(description="Our messages to you, oldest first")
    replies: list[TrackedMessage] = Field(description="Your replies, oldest first")
    remedies: list[TrackedRemedy]
    survey_open: bool = Field(description="Whether a satisfaction survey waits for your answer")


def tracking(complaint: Complaint, directory: DirectoryLookup, now: datetime) -> Tracking:
    names: dict[str, str] = {}

    def display_name(author: str) -> str:
        if author not in names:
            agent = directory.agent(author)
            names[author] = agent.display_name if agent and agent.display_name else STAFF_NAME
        return names[author]

    sla = complaint.sla
    return Tracking(
        reference=complaint.reference,
        status=complaint.status,
        category=complaint.category,
        subject=complaint.subject,
        filed_at=complaint.filed_at,
        closed_at=complaint.closed_at,
        resolution_due_at=sla.resolution.due_at if sla is not None else None,
        comments=[
            TrackedMessage(body=c.body, author=display_name(c.author), created_at=c.created_at)
            for c in complaint.comments
            if c.visibility == Visibility.CUSTOMER.value
        ],
        replies=[
            TrackedMessage(body=r.body, author="you", created_at=r.created_at)
            for r in complaint.customer_replies
        ],
        remedies=[
            TrackedRemedy(
                id=r.id,
                kind=r.kind,
                amount=r.amount,
                currency=r.currency,
                description=r.description,
                status=r.status,
            )
            for r in complaint.remedies
            if r.status in SHOWN_TO_CUSTOMER
        ],
        survey_open=complaint.survey_open(now),
    )


def track(app: ComplaintsApp, reference: str, code: str) -> Tracking:
    """The tracking page of ``reference``; ``ComplaintNotFoundError`` for an unknown reference
    and a wrong code alike."""
    return tracking(app.customer_complaint(reference, code), app.directory, app.clock())
