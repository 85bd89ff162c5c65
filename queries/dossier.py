"""A complaint's case file (dossier): its state, intake, every event with who and when, its
SLA clocks and whether its hash chain verifies; for compliance reviews and regulators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from commands.application import ComplaintsApp
from queries.audit_verify import ChainBreak
from queries.complaint_state import ComplaintPublic, get_complaint
from queries.history import HistoryEvent, get_history
from queries.story import StoryLine, tell


class Dossier(BaseModel):
    complaint_id: UUID
    reference: str
    generated_at: datetime
    generated_by: str
    complaint: ComplaintPublic
    """The complaint as it stands, with its SLA clocks."""
    intake: dict[str, Any]
    """What was recorded when it was filed."""
    events: list[HistoryEvent]
    story: list[StoryLine]
    """The events told as a story (``queries/story.py``): who, which rule, what caused it."""
    chain_verified: bool
    chain_breaks: list[ChainBreak]


def get_dossier(app: ComplaintsApp, complaint_id: UUID, generated_by: str) -> Dossier:
    history = get_history(app, complaint_id)
    return Dossier(
        complaint_id=complaint_id,
        reference=history.reference,
        generated_at=datetime.now(UTC),
        generated_by=generated_by,
        complaint=get_complaint(app, complaint_id),
        intake=history.events[0].data,
        events=history.events,
        story=tell(history),
        chain_verified=history.chain_verified,
        chain_breaks=history.chain_breaks,
    )
