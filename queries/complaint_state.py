"""The complaint representation, from the event store (strongly consistent) or as of a moment.

It carries only the latest ``EMBEDDED_COMMENTS`` comments, with the total count and the address of
the paged list (``queries/comments.py``): every command answers with this representation, and a
complaint may collect hundreds of comments of up to 20,000 characters each.

Its ``sla`` block reads the complaint's clocks at a moment: now (the application's clock) for a
live read, ``as_of`` for an as-of read. A complaint filed before SLA clocks existed has none
(``"sla": null``) until a supervisor re-applies the policy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from aggregates.complaint import Complaint
from aggregates.sla_clock import SlaClock
from aggregates.vocabulary import SlaState
from commands.application import ComplaintsApp
from commands.errors import ComplaintNotFoundError
from commands.shapes import (
    AttachmentBase,
    CommentBase,
    ComplaintBase,
    CustomerBase,
    ProductBase,
)
from queries.event_positions import event_position
from queries.latest_complaints import LatestComplaints

EMBEDDED_COMMENTS = 10
"""How many of its latest comments a complaint's representation carries."""


class _Public(BaseModel):
    # Built from the aggregate's value objects, read attribute by attribute.
    model_config = ConfigDict(from_attributes=True)


class CustomerPublic(CustomerBase, _Public):
    pass


class ProductPublic(ProductBase, _Public):
    pass


class AttachmentPublic(AttachmentBase, _Public):
    pass


class _CommentId(_Public):
    # A base of its own so that the id comes first in the answer (pydantic orders fields from
    # the deepest base up).
    id: str


class CommentPublic(CommentBase, _CommentId):
    author: str
    created_at: datetime


class SlaClockPublic(BaseModel):
    target: str = Field(description="ISO 8601 duration of working time, e.g. PT4H or P2D")
    cycle: int = Field(description="1; the resolution clock starts a new cycle on each reopen")
    due_at: datetime = Field(description="When the clock falls due (moved by pauses)")
    state: SlaState
    met_at: datetime | None
    breached_at: datetime | None = Field(
        description="The due instant, once it passed unmet (whether or not the deadline "
        "watcher has recorded the breach yet)"
    )
    remaining_seconds: int | None = Field(
        description="Whole seconds (elapsed time) from the moment read to `due_at`; while "
        "paused, from the start of the pause; 0 once breached, null once met"
    )


class SlaPublic(BaseModel):
    policy_version: int
    rule: str
    calendar: str
    calendar_version: int
    first_response: SlaClockPublic
    resolution: SlaClockPublic


def sla_public(complaint: Complaint, now: datetime) -> SlaPublic | None:
    """The complaint's SLA clocks read at ``now``; ``None`` without clocks."""
    sla = complaint.sla
    if sla is None:
        return None

    def clock(c: SlaClock, paused_since: datetime | None) -> SlaClockPublic:
        # What the clock holds, and what it reads at ``now``. The reading's fields by name, not
        # ``asdict``: it deep-copies every value (a quarter of ``represent`` in an assign's
        # profile).
        reading = c.reading(now, paused_since)
        return SlaClockPublic(
            target=c.target,
            cycle=c.cycle,
            due_at=c.due_at,
            met_at=c.met_at,
            state=reading.state,
            breached_at=reading.breached_at,
            remaining_seconds=reading.remaining_seconds,
        )

    return SlaPublic(
        policy_version=sla.policy_version,
        rule=sla.rule,
        calendar=sla.calendar,
        calendar_version=sla.calendar_version,
        first_response=clock(sla.first_response, None),
        resolution=clock(sla.resolution, complaint.paused_since),
    )


class RemedyPublic(_Public):
    id: str
    kind: str
    amount: str | None = Field(description='Two decimals as text ("120.00"); null: none')
    currency: str | None
    description: str
    status: str = Field(
        description="proposed | awaiting_approval | approved | rejected | accepted | declined "
        "| fulfilled"
    )
    proposed_by: str
    proposed_at: datetime
    updated_at: datetime
    decided_by: str | None = Field(description="Who approved or rejected it")
    rejection_reason: str | None
    customer_reason: str | None = Field(description="Why the customer declined it")
    fulfilment_note: str | None


class LinkedComplaint(BaseModel):
    id: UUID
    reference: str


class _ComplaintIdentity(_Public):
    # First in the answer, before what the complaint was filed with (see _CommentId).
    id: UUID
    reference: str
    status: str


class ComplaintPublic(ComplaintBase, _ComplaintIdentity):
    customer: CustomerPublic
    product: ProductPublic
    attachments: list[AttachmentPublic]
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
    tags: list[str] = Field(description="Labels, in the order they were added")
    linked: list[LinkedComplaint] = Field(
        description="Related complaints this one was linked to (the same customer or order, "
        "open or recently closed when it was filed), in the order they were linked"
    )
    sla: SlaPublic | None = Field(
        description="The SLA clocks, read now (or at `as_of`); null for a complaint filed "
        "before SLA clocks existed"
    )
    comments: list[CommentPublic] = Field(
        description=f"The latest {EMBEDDED_COMMENTS} comments, oldest first; all of them are "
        "paged at `comments_url`"
    )
    remedies: list[RemedyPublic] = Field(description="Remedies offered, oldest first")
    comment_count: int = Field(description="How many comments the complaint has in all")
    comments_url: str = Field(description="The paged list of all comments, oldest first")
    version: int
    position: int | None
    updated_at: datetime


def represent(complaint: Complaint, position: int | None, now: datetime) -> ComplaintPublic:
    """``complaint`` as answered, its SLA clocks read at ``now``."""
    fields: dict[str, Any] = {name: getattr(complaint, name) for name in _ATTRIBUTES}
    return ComplaintPublic(
        id=complaint.id,
        version=complaint.version,
        position=position,
        filed_at=complaint.filed_at,
        updated_at=complaint.modified_on,
        comments=[CommentPublic.model_validate(c) for c in complaint.comments[-EMBEDDED_COMMENTS:]],
        comment_count=len(complaint.comments),
        comments_url=f"/complaints/{complaint.id}/comments",
        sla=sla_public(complaint, now),
        linked=[LinkedComplaint(id=i, reference=r) for i, r in complaint.linked],
        **fields,
    )


# Fields of ComplaintPublic that are not attributes of the aggregate under the same name.
_NOT_ATTRIBUTES = {
    "id", "version", "position", "filed_at", "updated_at", "comments", "comment_count",
    "comments_url", "sla", "linked",
}
# The others, listed once (``model_fields`` is a property of the class, not free to read).
_ATTRIBUTES = tuple(name for name in ComplaintPublic.model_fields if name not in _NOT_ATTRIBUTES)


def get_complaint(
    app: ComplaintsApp,
    complaint_id: UUID,
    *,
    version: int | None = None,
) -> ComplaintPublic:
    complaint = app.get_complaint(complaint_id, version=version)
    return represent(complaint, event_position(app, complaint_id, complaint.version), app.clock())


def read_complaint(latest: LatestComplaints, complaint_id: UUID) -> ComplaintPublic:
    """The complaint as last stored (a strongly consistent read), its clocks read now."""
    complaint, position = latest.get(complaint_id)
    now = latest.app.clock()
    # Made once per cached version: only the SLA clocks change from one read to the next, and
    # building the rest again cost about 40 us per read (docs/performance.md, "Reads, session
    # 23"). The position comes with the complaint object, so the same object has the same one.
    made: tuple[Complaint, Any] | None
    try:
        made = latest.shown.get(complaint_id)
    except KeyError:
        made = None
    if made is not None and made[0] is complaint and isinstance(made[1], ComplaintPublic):
        return made[1].model_copy(update={"sla": sla_public(complaint, now)})
    shown = represent(complaint, position, now)
    latest.shown.put(complaint_id, (complaint, shown))
    return shown


def get_complaint_as_of(app: ComplaintsApp, complaint_id: UUID, as_of: datetime) -> ComplaintPublic:
    complaint = complaint_as_of(app, complaint_id, as_of)
    return represent(complaint, event_position(app, complaint_id, complaint.version), as_of)


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
