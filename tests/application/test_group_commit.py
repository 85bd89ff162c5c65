"""Group commit (commands/group_commit.py): concurrent commands share a transaction, and each is
answered as it would have been alone: a conflict, a replay, a reused key or a stale If-Match
among them fails nobody else. Both stores."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest

from commands.application import CommandResult, ComplaintsApp
from commands.context import CommandContext
from commands.errors import (
    ConcurrencyConflictError,
    IdempotencyKeyReusedError,
    PreconditionFailedError,
)
from commands.group_commit import GroupCommitOptions
from commands.models import AssignComplaint, CommentOnComplaint, FileComplaint
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from tests.intake import intake
from tests.race import race

HELLO = CommentOnComplaint(body="hello", visibility="customer")
OTHER = CommentOnComplaint(body="another", visibility="internal")


def file(app: ComplaintsApp, ctx: CommandContext) -> UUID:
    return app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id


@pytest.fixture
def rival(settings: Settings) -> Iterator[Services]:
    """A second process on the same store (its own application, group commit off)."""
    with bootstrap(settings.model_copy(update={"group_commit_enabled": False})) as other:
        yield other


def batching(app: ComplaintsApp, size: int, before_write: Callable[[], None]) -> None:
    """The next ``size`` saves form one batch; ``before_write`` runs before it is written."""
    writer = app.writer
    writer.options = GroupCommitOptions(window_seconds=5.0, max_commands=size)
    write = writer._write
    pending = [before_write]

    def write_after_rivals(batch: Any) -> None:
        while pending:
            pending.pop()()
        write(batch)

    writer._write = write_after_rivals  # type: ignore[method-assign]


def test_losers_are_answered_as_alone_and_the_rest_commit_once(
    app: ComplaintsApp, rival: Services, ctx: CommandContext
) -> None:
    x, y, w, v = (file(app, ctx) for _ in range(4))
    theirs: dict[str, CommandResult] = {}

    def rivals() -> None:  # after our commands decided, before their batch is written
        other = rival.app
        other.handle(x, OTHER, ctx)  # x moves on: our comment on x loses
        theirs["replay"] = other.handle(y, HELLO, ctx.keyed("k-same"))
        other.handle(w, OTHER, ctx.keyed("k-reused"))  # the key, for another request

    batching(app, 5, rivals)
    before = app.writer.batches
    conflict, replay, reused, filed, commented, stale = race(
        lambda: app.handle(x, HELLO, ctx),
        lambda: app.handle(y, HELLO, ctx.keyed("k-same")),
        lambda: app.handle(w, AssignComplaint(assignee="bob"), ctx.keyed("k-reused")),
        lambda: app.file_complaint(FileComplaint.model_validate(intake()), ctx),
        lambda: app.handle(v, HELLO, ctx),
        lambda: app.handle(v, OTHER, ctx.expecting(1)),  # stale If-Match: refused before saving
    )
    assert isinstance(conflict, ConcurrencyConflictError)
    assert isinstance(stale, PreconditionFailedError) and stale.expected == 1
    assert replay.replayed and replay.version == theirs["replay"].version
    assert isinstance(reused, IdempotencyKeyReusedError)
    assert app.writer.batches == before + 1  # the two winners, in one transaction
    assert app.get_complaint(filed.complaint_id).version == filed.version == 2
    assert [c.body for c in app.get_complaint(v).comments] == ["hello"]
    assert [c.body for c in app.get_complaint(x).comments] == ["another"]


def test_a_value_the_store_refuses_fails_only_its_own_command(
    app: ComplaintsApp, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = file(app, ctx), file(app, ctx)
    to_stored = app.mapper.to_stored_event

    def refuse_bad(event: Any) -> Any:
        if event.originator_id == bad:
            raise ValueError("refused")
        return to_stored(event)

    monkeypatch.setattr(app.mapper, "to_stored_event", refuse_bad)
    batching(app, 2, lambda: None)
    ok, failed = race(lambda: app.handle(good, HELLO, ctx), lambda: app.handle(bad, HELLO, ctx))
    assert isinstance(failed, ValueError)
    assert ok.version == 3 and len(app.get_complaint(good).comments) == 1
    assert app.get_complaint(bad).comments == []


def test_concurrent_commands_share_transactions_and_each_applies_once(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    ids = [file(app, ctx) for _ in range(24)]
    app.writer.options = GroupCommitOptions(window_seconds=0.2, max_commands=64)
    before = app.writer.batches
    results = race(*(lambda cid=cid: app.handle(cid, HELLO, ctx) for cid in ids))
    assert all(isinstance(r, CommandResult) and r.version == 3 for r in results)
    assert app.writer.batches - before < len(ids) / 2
    assert all(len(app.get_complaint(cid).comments) == 1 for cid in ids)
    positions = [r.position for r in results]
    assert len(set(positions)) == len(ids)  # each its own event, its own position


def test_two_commands_on_one_complaint_in_one_window_are_not_batched_together(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = file(app, ctx)
    app.writer.options = GroupCommitOptions(window_seconds=0.2, max_commands=64)
    outcomes = race(lambda: app.handle(cid, HELLO, ctx), lambda: app.handle(cid, OTHER, ctx))
    # Both decided on version 2: one wins, the other is the conflict it would be alone.
    assert sorted(type(o).__name__ for o in outcomes) == [
        "CommandResult", "ConcurrencyConflictError",
    ]
    assert len(app.get_complaint(cid).comments) == 1


def test_disabled_or_closed_writes_directly(settings: Settings, ctx: CommandContext) -> None:
    with bootstrap(settings.model_copy(update={"group_commit_enabled": False})) as built:
        file(built.app, ctx)
        assert built.app.writer.batches == 0
    with bootstrap(settings) as built:
        file(built.app, ctx)
        assert built.app.writer.batches == 1
        built.app.writer.close()
        cid = file(built.app, ctx)
        assert built.app.writer.batches == 1 and built.app.get_complaint(cid).version == 2


def test_a_request_whose_event_loop_closed_is_still_written_and_the_writer_lives_on(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    first, second = file(app, ctx), file(app, ctx)
    app.writer.options = GroupCommitOptions(window_seconds=0.3, max_commands=64)
    loop = asyncio.new_event_loop()
    task = loop.create_task(app.handle_async(first, HELLO, ctx))
    loop.run_until_complete(asyncio.sleep(0.05))  # decided and queued; the writer waits for more
    task.cancel()
    loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    loop.close()  # the writer then answers a loop that is gone
    app.writer.options = GroupCommitOptions()
    answered: list[CommandResult] = []
    later = threading.Thread(target=lambda: answered.append(app.handle(second, HELLO, ctx)))
    later.daemon = True  # a dead writer would leave it waiting forever
    later.start()
    later.join(timeout=10)
    assert [r.version for r in answered] == [3]
    assert [c.body for c in app.get_complaint(first).comments] == ["hello"]


def test_a_saved_complaint_is_read_from_the_cache_and_still_sees_other_processes(
    app: ComplaintsApp, rival: Services, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = file(app, ctx)
    replayed = app.repository._reconstruct_aggregate

    def no_replay(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("version", args[1] if len(args) > 1 else None) is None:
            raise AssertionError("the latest complaint was replayed from the store")
        return replayed(*args, **kwargs)

    monkeypatch.setattr(app.repository, "_reconstruct_aggregate", no_replay)
    assigned = app.handle(cid, AssignComplaint(assignee="bob"), ctx)  # the filing, cached
    assert app.get_complaint(cid).version == assigned.version  # as saved, from the cache
    rival.app.handle(cid, OTHER, ctx)  # another process moves it on
    ours = app.handle(cid, HELLO, ctx)  # decided on the cached copy, fast-forwarded
    assert [c.body for c in app.get_complaint(cid).comments] == ["another", "hello"]
    assert ours.version == assigned.version + 2
    # The answer's state is not the cached object: a reader fast-forwarding the cache in place
    # must not change an answer being rendered.
    assert ours.state is not app.repository.cache.get(cid)
