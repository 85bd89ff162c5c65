"""The application service against real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime
from functools import partial

import pytest

from commands.application import CommandResult, ComplaintsApp
from commands.context import CommandContext
from commands.errors import (
    ComplaintNotFoundError,
    ConcurrencyConflictError,
    IdempotencyKeyReusedError,
    PreconditionFailedError,
)
from commands.models import AssignComplaint, CommentOnComplaint, FileComplaint
from queries.complaint_state import get_complaint
from queries.history import get_history
from tests.intake import intake
from tests.race import race


def file(app: ComplaintsApp, ctx: CommandContext, **overrides: object) -> FileComplaint:
    return FileComplaint.model_validate(intake(**overrides))


def test_filing_keeps_the_true_received_at_of_an_import(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    received = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    result = app.file_complaint(file(app, ctx, received_at=received.isoformat()), ctx)
    view = get_complaint(app, result.complaint_id)
    assert view.received_at == received
    assert view.filed_at > received  # the system clock records when we learned of it
    assert view.position == result.position


def test_reference_resolves_to_the_complaint(app: ComplaintsApp, ctx: CommandContext) -> None:
    result = app.file_complaint(file(app, ctx), ctx)
    reference = get_complaint(app, result.complaint_id).reference
    assert app.resolve_reference(reference) == result.complaint_id
    assert app.resolve_reference(reference.lower()) == result.complaint_id
    with pytest.raises(ComplaintNotFoundError):
        app.resolve_reference("C-0000-0000")


def test_stale_expected_version_is_refused(app: ComplaintsApp, ctx: CommandContext) -> None:
    cid = app.file_complaint(file(app, ctx), ctx).complaint_id
    app.handle(cid, AssignComplaint(assignee="bob"), ctx.expecting(2))
    with pytest.raises(PreconditionFailedError):
        app.handle(cid, AssignComplaint(assignee="carol"), ctx.expecting(2))
    assert app.get_complaint(cid).assignee == "bob"


def test_a_writer_that_loses_the_race_gets_a_conflict_and_writes_nothing(
    app: ComplaintsApp, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = app.file_complaint(file(app, ctx), ctx).complaint_id
    stale = app.get_complaint(cid)
    app.handle(cid, AssignComplaint(assignee="bob"), ctx)
    # The second writer read version 2 before the first one saved version 3.
    monkeypatch.setattr(app, "get_complaint", lambda *_a, **_k: deepcopy(stale))
    with pytest.raises(ConcurrencyConflictError):
        app.handle(cid, CommentOnComplaint(body="hello"), ctx)
    monkeypatch.undo()
    assert [e.type for e in get_history(app, cid).events] == ["filed", "sla_applied", "assigned"]


def test_two_concurrent_writers_with_one_expected_version_one_wins(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    for _ in range(5):
        cid = app.file_complaint(file(app, ctx), ctx).complaint_id
        outcomes = race(
            *(
                partial(app.handle, cid, AssignComplaint(assignee=who), ctx.expecting(2))
                for who in ("bob", "carol")
            )
        )
        winners = [o for o in outcomes if isinstance(o, CommandResult)]
        losers = [o for o in outcomes if not isinstance(o, CommandResult)]
        assert len(winners) == 1, outcomes
        assert isinstance(losers[0], ConcurrencyConflictError | PreconditionFailedError), outcomes
        assert app.get_complaint(cid).version == 3


def test_idempotent_retry_applies_once(app: ComplaintsApp, ctx: CommandContext) -> None:
    command = file(app, ctx)
    first = app.file_complaint(command, ctx.keyed("k-1"))
    again = app.file_complaint(command, ctx.keyed("k-1"))
    assert again.replayed and again.complaint_id == first.complaint_id
    assert again.version == first.version
    with pytest.raises(IdempotencyKeyReusedError):
        app.file_complaint(file(app, ctx, subject="other"), ctx.keyed("k-1"))
    # Keys are scoped per principal: another caller's key of the same name is independent.
    other = CommandContext("bob", "agent", "corr-2")
    assert not app.file_complaint(command, other.keyed("k-1")).replayed


def test_concurrent_retries_with_one_key_apply_once(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = app.file_complaint(file(app, ctx), ctx).complaint_id
    command = CommentOnComplaint(body="once")
    results = race(*[partial(app.handle, cid, command, ctx.keyed("same"))] * 4)
    assert all(isinstance(r, CommandResult) for r in results), results
    assert {r.version for r in results} == {3}
    assert [e.type for e in get_history(app, cid).events] == [
        "filed", "sla_applied", "commented"
    ]

