"""The command layer enforces the scope itself (not only the HTTP routes): a command on a
complaint outside the principal's reach is refused before If-Match and before deciding, and
stores nothing."""

from __future__ import annotations

from uuid import UUID

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.errors import ForbiddenError
from commands.models import AssignComplaint, CloseComplaint, CommentOnComplaint, FileComplaint
from tests.intake import intake

AGENT = CommandContext("ann", "agent", "corr-agent", teams=("east",))
COMPLIANCE = CommandContext("cora", "compliance", "corr-compliance")
CLOSE = CloseComplaint.model_validate({"resolution_code": "resolved", "summary": "done"})


def filed_for(app: ComplaintsApp, ctx: CommandContext, team: str) -> UUID:
    cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    app.handle(cid, AssignComplaint(assignee="walt", team=team), ctx)
    return cid


def test_out_of_scope_commands_store_nothing(app: ComplaintsApp, ctx: CommandContext) -> None:
    west = filed_for(app, ctx, "west")
    before = app.recorder.max_notification_id()
    with pytest.raises(ForbiddenError) as refused:
        app.handle(west, CLOSE, AGENT)
    assert refused.value.action == "complaint.close" and "west" in refused.value.reason
    # A stale If-Match does not tell a refused caller the complaint's version.
    with pytest.raises(ForbiddenError):
        app.handle(west, CLOSE, AGENT.expecting(1))
    with pytest.raises(ForbiddenError):
        app.handle(west, CommentOnComplaint(body="hi", visibility="internal"), COMPLIANCE)
    with pytest.raises(ForbiddenError):
        app.file_complaint(FileComplaint.model_validate(intake()), COMPLIANCE)
    assert app.recorder.max_notification_id() == before


def test_in_scope_commands_are_applied(app: ComplaintsApp, ctx: CommandContext) -> None:
    east = filed_for(app, ctx, "east")
    keyed = AGENT.keyed("close-once")
    first = app.handle(east, CLOSE, keyed)
    assert app.get_complaint(east).is_closed
    # An idempotent retry answers what the first call did.
    assert app.handle(east, CLOSE, keyed).version == first.version
