"""Strongly consistent reads of one complaint from the read cache (queries/latest_complaints.py)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.errors import ComplaintNotFoundError
from commands.models import AssignComplaint, CommentOnComplaint, FileComplaint
from infra.bootstrap import bootstrap
from infra.settings import Settings
from projections.database import database_of
from queries.complaint_state import read_complaint, represent
from queries.latest_complaints import LatestComplaints
from tests.intake import intake


def test_a_read_sees_what_another_process_wrote_with_its_position(
    app: ComplaintsApp, ctx: CommandContext, settings: Settings
) -> None:
    latest = LatestComplaints(app)
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    first, _ = latest.get(cid)
    with bootstrap(settings) as other:  # another process on the same store
        other.app.handle(cid, AssignComplaint(assignee="li.na", team="east"), ctx)
        other.app.handle(cid, CommentOnComplaint(body="On it", visibility="customer"), ctx)
    complaint, position = latest.get(cid)
    assert (complaint.version, complaint.assignee, len(complaint.comments)) == (4, "li.na", 1)
    assert position == database_of(app).event_positions(cid)[4]
    # The complaint handed out before is shared, so it was never changed: a copy was.
    assert (first.version, first.assignee, first.comments) == (2, None, [])


def test_an_unchanged_complaint_is_the_cached_one(app: ComplaintsApp, ctx: CommandContext) -> None:
    latest = LatestComplaints(app)
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    assert latest.get(cid) is latest.get(cid)


def test_ids_of_no_complaint_are_not_found(app: ComplaintsApp, ctx: CommandContext) -> None:
    latest = LatestComplaints(app)
    token = app.tokens.issue("bob", "agent", ctx).token_id  # an aggregate, but no complaint
    for unknown in (uuid4(), token):
        with pytest.raises(ComplaintNotFoundError):
            latest.get(unknown)


def test_a_read_made_of_the_cached_complaint_reads_its_clocks_now_and_follows_its_changes(
    app: ComplaintsApp, ctx: CommandContext, settings: Settings
) -> None:
    latest = LatestComplaints(app)
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    first = read_complaint(latest, cid)
    later = first.sla.first_response.due_at + timedelta(minutes=1)  # type: ignore[union-attr]
    app.clock = lambda: later  # type: ignore[method-assign]
    again = read_complaint(latest, cid)
    # The same representation but for the clocks, read at the new instant.
    assert again.sla == represent(latest.get(cid)[0], again.position, later).sla
    assert again.sla != first.sla
    assert again.model_dump(exclude={"sla"}) == first.model_dump(exclude={"sla"})
    with bootstrap(settings) as other:  # another process on the same store
        other.app.handle(cid, CommentOnComplaint(body="On it", visibility="customer"), ctx)
    changed = read_complaint(latest, cid)
    assert (changed.version, changed.comment_count) == (first.version + 1, 1)
    assert changed.position == database_of(app).event_positions(cid)[changed.version]
