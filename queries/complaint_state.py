"""The complaint representation, from the event store (strongly consistent) or as of a moment.

It carries only the latest ``EMBEDDED_COMMENTS`` comments, with the total count and the address of
the paged list (``queries/comments.py``): every command answers with this representation, and a
complaint may collect hundreds of comments of up to 20,000 characters each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from aggregates.complaint import Complaint
from commands.application import ComplaintsApp
from commands.errors import ComplaintNotFoundError
from queries.event_positions import event_position

EMBEDDED_COMMENTS = 10
"""How many of its latest comments a complaint's representation carries."""


class CustomerPublic(BaseModel):
    id: str
    name: str
    company: str | None = None
    phone: str | None = None
    email: str | None = None
    tier: str


class ProductPublic(BaseModel):
    name: str | None = None
    model: str | None = None
    order_number: str | None = None
    contract_number: str | None = None
    service_item: str | None = None


class AttachmentPublic(BaseModel):
    name: str
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None


class CommentPublic(BaseModel):
    id: str
    body: str
    visibility: str
    author: str
    created_at: datetime


class ComplaintPublic(BaseModel):
    id: UUID
    reference: str
    status: str
    customer: CustomerPublic
    product: ProductPublic
    category: str
    subject: str
    description: str
    occurred_at: datetime | None
    location: str | None
    attachments: list[AttachmentPublic]
    expected_remedy: str | None
    channel: str
    severity: str
    region: str | None
    received_by: str
    received_at: datetime
    assignee: str | None
    team: str | None
    escalation_level: int
    filed_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None
    resolution_code: str | None
    resolution_summary: str | None
    reopen_count: int
    comments: list[CommentPublic] = Field(
        description=f"The latest {EMBEDDED_COMMENTS} comments, oldest first; all of them are "
        "paged at `comments_url`"
    )
    comment_count: int = Field(description="How many comments the complaint has in all")
    comments_url: str = Field(description="The paged list of all comments, oldest first")
    version: int
    position: int | None
    updated_at: datetime


def represent(complaint: Complaint, position: int | None) -> ComplaintPublic:
    fields: dict[str, Any] = {
        name: getattr(complaint, name)
        for name in ComplaintPublic.model_fields
        if name not in _NOT_ATTRIBUTES
    }
    return ComplaintPublic(
        id=complaint.id,
        version=complaint.version,
        position=position,
        filed_at=complaint.filed_at,
        updated_at=complaint.modified_on,
        comments=[CommentPublic.model_validate(c) for c in complaint.comments[-EMBEDDED_COMMENTS:]],
        comment_count=len(complaint.comments),
        comments_url=f"/complaints/{complaint.id}/comments",
        **fields,
    )


# Fields of ComplaintPublic that are not attributes of the aggregate under the same name.
_NOT_ATTRIBUTES = {
    "id", "version", "position", "filed_at", "updated_at", "comments", "comment_count",
    "comments_url",
}


def get_complaint(
    app: ComplaintsApp,
    complaint_id: UUID,
    *,
    version: int | None = None,
) -> ComplaintPublic:
    complaint = app.get_complaint(complaint_id, version=version)
    return represent(complaint, event_position(app, complaint_id, complaint.version))


def get_complaint_as_of(app: ComplaintsApp, complaint_id: UUID, as_of: datetime) -> ComplaintPublic:
    complaint = complaint_as_of(app, complaint_id, as_of)
    return represent(complaint, event_position(app, complaint_id, complaint.version))


def complaint_as_of(app: ComplaintsApp, complaint_id: UUID, as_of: datetime) -> Complaint:
    """Replays the complaint's events recorded at or before ``as_of`` (the system clock)."""
    complaint: Complaint | None = None
    for event in app.events.get(complaint_id):
        if event.timestamp > as_of:  # type: ignore[attr-defined]
            break
        complaint = event.mutate(complaint)  # type: ignore[attr-defined]
    if complaint is None or not isinstance(complaint, Complaint):
        raise ComplaintNotFoundError(
            f"complaint {complaint_id} did not exist at {as_of.isoformat()}"
        )
    return complaint
