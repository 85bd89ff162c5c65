"""At most one runner per projection: a second one waits, and takes over when the first is gone."""

from __future__ import annotations

import time

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.settings import Settings
from projections import runner as runner_module
from projections.coordination import Coordinator
from projections.database import database_of
from projections.registry import build
from projections.runner import BackgroundRunner, Runner
from projections.store import ReadModelStore
from tests.intake import intake
from tests.waiting import eventually


def test_a_second_runner_waits_then_takes_over(app: ComplaintsApp) -> None:
    first = database_of(app).coordinator(0.01)
    second = database_of(app).coordinator(0.01)
    try:
        assert first.acquire("complaint_list")
        assert not second.acquire("complaint_list")
        assert second.acquire("workload")  # locks are per projection
        first.close()  # the holder's session (or process) ends, however it ends
        # The server releases a session's locks as its backend exits, a moment after the
        # client hung up (a standby retries every second).
        assert eventually(lambda: second.acquire("complaint_list"), 5)
    finally:
        first.close()
        second.close()


def test_a_standby_runner_takes_over_from_a_stopped_one_without_gaps_or_doubles(
    app: ComplaintsApp, settings: Settings, ctx: CommandContext
) -> None:
    store = ReadModelStore(app)

    def file(n: int) -> int:
        for _ in range(n):
            app.file_complaint(FileComplaint.model_validate(intake()), ctx)
        return app.recorder.max_notification_id() or 0

    def caught_up(head: int) -> bool:
        return eventually(lambda: store.position("complaint_list") >= head)

    first = BackgroundRunner(Runner(app, build(), poll_seconds=0.02)).start()
    standby = BackgroundRunner(Runner(app, build(), poll_seconds=0.02))
    try:
        assert caught_up(file(10))  # the first runner holds every projection's lock
        standby.start()
        assert caught_up(file(10))
        first.stop()
        assert caught_up(file(5))  # only the standby can have done this
    finally:
        first.stop()
        standby.stop()
    rows = store.snapshot(build()[0].tables[0])
    assert len(rows) == 25 and len({r["id"] for r in rows}) == 25


def test_a_standby_asks_for_the_locks_it_lacks_about_once_a_second(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    """Not at every wake-up: every insert wakes every runner, and asking for each projection's
    lock then cost the database more statements than the commands did."""
    store = ReadModelStore(app)
    projections = build()
    refused: list[str] = []
    standby = Runner(app, projections, poll_seconds=0.02)
    coordinator_of = standby.coordinator

    def counting() -> Coordinator:
        coordinator = coordinator_of()
        acquire = coordinator.acquire

        def counted(name: str) -> bool:
            held = acquire(name)
            if not held:
                refused.append(name)
            return held

        coordinator.acquire = counted  # type: ignore[method-assign]
        return coordinator

    standby.coordinator = counting  # type: ignore[method-assign]
    first = BackgroundRunner(Runner(app, projections, poll_seconds=0.02)).start()
    second = BackgroundRunner(standby)
    try:
        app.file_complaint(FileComplaint.model_validate(intake()), ctx)
        head = app.recorder.max_notification_id() or 0
        assert eventually(lambda: store.position("complaint_list") >= head)
        second.start()
        until = time.monotonic() + 2.5
        while time.monotonic() < until:  # a steady stream of events, each a wake-up
            app.file_complaint(FileComplaint.model_validate(intake()), ctx)
            time.sleep(0.02)
    finally:
        second.stop()
        first.stop()
    # Asked at the start, then about once a second: three or four rounds in 2.5 s, not one
    # per wake-up (over a hundred).
    assert len(projections) <= len(refused) <= 4 * len(projections)
    assert set(refused) == {p.name for p in projections}


def test_a_stopping_holder_is_taken_over_without_waiting_for_the_next_ask(
    app: ComplaintsApp, ctx: CommandContext, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the holder announces its release as it stops, and a standby asks for the
    locks at once; on SQLite (no announcement) at its next periodic ask."""
    monkeypatch.setattr(runner_module, "LOCK_RETRY_SECONDS", 3.0)
    store = ReadModelStore(app)
    projections = build()

    def file() -> int:
        app.file_complaint(FileComplaint.model_validate(intake()), ctx)
        return app.recorder.max_notification_id() or 0

    first = BackgroundRunner(Runner(app, projections, poll_seconds=0.02)).start()
    standby = BackgroundRunner(Runner(app, projections, poll_seconds=0.02))
    try:
        head = file()
        assert eventually(lambda: store.position("complaint_list") >= head)
        standby.start()
        time.sleep(0.5)  # it has asked once, been refused, and will not ask again for 3 s
        first.stop()
        stopped = time.monotonic()
        head = file()
        assert eventually(lambda: store.position("complaint_list") >= head, 10)
        took = time.monotonic() - stopped
    finally:
        first.stop()
        standby.stop()
    if database_url.startswith("postgresql"):
        assert took < 1.5  # announced: not the 2.5 s left until the next ask
    else:
        assert took < 6.0
