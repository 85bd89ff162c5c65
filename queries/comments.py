"""All comments of one complaint, oldest first, in pages (``GET /complaints/{id}/comments``).

Read from the event store like the complaint itself (strongly consistent, and ``as_of`` works the
same way). Oldest first because comments are a conversation read from its start, and because
comments are only ever appended: the cursor, the id of the last comment served, then never moves,
so a page neither repeats nor skips comments added meanwhile (they appear on later pages).
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from aggregates.complaint import Complaint
from commands.application import ComplaintsApp
from queries.complaint_state import CommentPublic, complaint_as_of
from queries.errors import InvalidQueryError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_COMMENT_ID = re.compile(r"[0-9a-f]{32}")


class CommentPage(BaseModel):
    complaint_id: UUID
    total: int = Field(description="How many comments the complaint has (had, with as_of)")
    items: list[CommentPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


def list_comments(
    app: ComplaintsApp,
    complaint_id: UUID,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    as_of: datetime | None = None,
) -> CommentPage:
    complaint: Complaint = (
        complaint_as_of(app, complaint_id, as_of)
        if as_of is not None
        else app.get_complaint(complaint_id)
    )
    return comment_page(complaint, limit=limit, cursor=cursor)


def comment_page(
    complaint: Complaint, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> CommentPage:
    """A page of the comments of a complaint already loaded."""
    comments = complaint.comments
    start = 0
    if cursor is not None:
        ids = [c.id for c in comments]
        if not _COMMENT_ID.fullmatch(cursor) or cursor not in ids:
            raise InvalidQueryError("cursor", "is not a comment of this complaint")
        start = ids.index(cursor) + 1
    page = comments[start : start + limit]
    more = start + limit < len(comments)
    return CommentPage(
        complaint_id=complaint.id,
        total=len(comments),
        items=[CommentPublic.model_validate(c) for c in page],
        next_cursor=page[-1].id if more and page else None,
    )
