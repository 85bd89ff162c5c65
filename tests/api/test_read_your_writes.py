"""?min_position=N: refused at once beyond the head, waited for without a thread, capped, and
woken by the view's commit (in-process signal, PostgreSQL NOTIFY, SQLite polling)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from aggregates.vocabulary import Role
from api.app import create_app
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import bootstrap
from infra.settings import Settings
from projections.position_signal import PositionSignal, signal_for
from projections.position_watcher import PositionWatcher
from projections.registry import build
from projections.runner import Runner
from projections.store import ReadModelStore
from tests.conftest import POSTGRES_URL, reset_schema
from tests.intake import intake
from tests.waiting import eventually

VIEWS = {"/complaints": {}, "/workload": {}, "/analytics/summary": {"group_by": "day"}}


def file(app: ComplaintsApp, ctx: CommandContext) -> int:
    """Files a complaint that no projection has processed yet; returns its position."""
    app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    return app.recorder.max_notification_id() or 0


@pytest.mark.parametrize("path", sorted(VIEWS))
def test_a_position_beyond_the_head_is_refused_at_once(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, path: str
) -> None:
    head = file(app, ctx)
    started = time.monotonic()
    response = client.get(path, params={**VIEWS[path], "min_position": head + 1})
    assert time.monotonic() - started < 1.0  # not the 5 s wait
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["field"] == "min_position"
    assert f"head ({head})" in problem["errors"][0]["reason"] and problem["head"] == head


@dataclass(frozen=True)
class Crowd:
    client: TestClient
    waits: list[Future[tuple[int, float]]]
    """Each waiting read's answer: its status and when it came."""


@pytest.fixture
def crowd(
    settings: Settings, app: ComplaintsApp, ctx: CommandContext, role_tokens: dict[Role, str]
) -> Iterator[Crowd]:
    """As many reads as may wait (60 here) waiting on a position no view has reached yet.
    Whoever still waits at the end is released by catching the views up."""
    patient = settings.model_copy(update={"read_wait_seconds": 30, "read_wait_max_waiters": 60})
    position = file(app, ctx)
    with (
        bootstrap(patient) as services,
        TestClient(create_app(services)) as client,
        ThreadPoolExecutor(60) as pool,
    ):
        # A supervisor: may read both the list and the workload.
        client.headers["Authorization"] = f"Bearer {role_tokens[Role.SUPERVISOR]}"

        def waiting_read() -> tuple[int, float]:
            response = client.get("/complaints", params={"min_position": position})
            return response.status_code, time.monotonic()

        waits = [pool.submit(waiting_read) for _ in range(60)]
        state = client.app.state  # type: ignore[attr-defined]
        assert eventually(lambda: getattr(state, "position_watcher", None) is not None
                          and state.position_watcher.waiting == 60)
        yield Crowd(client, waits)
        Runner(app, build()).catch_up()
        wait(waits, timeout=10)


def test_waiting_reads_hold_no_thread(crowd: Crowd) -> None:
    started = time.monotonic()
    plain = crowd.client.get("/workload")
    assert plain.status_code == 200
    assert time.monotonic() - started < 1.0  # served although 60 reads are waiting


def test_a_read_past_the_waiting_cap_gets_429(crowd: Crowd, app: ComplaintsApp) -> None:
    position = app.recorder.max_notification_id()
    crowded = crowd.client.get("/complaints", params={"min_position": position})
    assert crowded.status_code == 429 and crowded.headers["Retry-After"] == "1"
    assert crowded.headers["content-type"] == "application/problem+json"


def test_every_waiting_read_wakes_when_the_view_commits(
    crowd: Crowd, app: ComplaintsApp, settings: Settings
) -> None:
    Runner(app, build()).catch_up()
    committed = time.monotonic()
    answers = [w.result(timeout=10) for w in crowd.waits]
    assert {status for status, _ in answers} == {200}
    assert max(at for _, at in answers) - committed < 2.0  # woken, not timed out


# Reported, not fixed here (tests only): the channel is named after the events table without its
# schema, so every schema of a database shares it, and a woken waiter answers without re-reading.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_commit_in_another_schema_does_not_answer_a_wait(
    client: TestClient,
    app: ComplaintsApp,
    settings: Settings,
    ctx: CommandContext,
    postgres_schema: str,
) -> None:
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"read_wait_seconds": 1.0}
    )
    position = file(app, ctx)  # no runner on this schema: its views stay behind
    other_schema = f"{postgres_schema}_other"
    reset_schema(other_schema)
    elsewhere = settings.model_copy(
        update={"database_url": f"{POSTGRES_URL}?schema={other_schema}"}
    )
    other_services = bootstrap(elsewhere)
    other = other_services.app
    try:
        while file(other, ctx) < position:
            pass
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(client.get, "/complaints", params={"min_position": position})
            state = client.app.state  # type: ignore[attr-defined]
            # Waiting, unless already answered (by any other schema's announcement: the bug).
            assert eventually(lambda: waiting.done() or (
                getattr(state, "position_watcher", None) is not None
                and state.position_watcher.waiting == 1
            ))
            other_services.runner().catch_up()  # commits, and announces, over there
            response = waiting.result(timeout=10)
    finally:
        other_services.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{other_schema}" CASCADE')
    assert response.status_code == 503, response.text


@pytest.mark.parametrize(("source", "bound"), [("in-process", 0.05), ("cross-process", 0.5)])
def test_a_waiter_is_woken_by_the_commit_itself(
    app: ComplaintsApp, settings: Settings, ctx: CommandContext, source: str, bound: float
) -> None:
    """In-process, the runner's own signal wakes the waiter. Cross-process (a private signal
    here, so the runner's cannot reach it), only PostgreSQL NOTIFY, or SQLite polling every
    50 ms, can: the safety-net re-read is set far beyond the test's bound. The old wait polled
    every 20 ms behind a runner that pauses 20 ms (batch delay) and polls SQLite every 100 ms."""
    position = file(app, ctx)
    runner = Runner(app, build(["complaint_list"]))
    watcher = PositionWatcher(
        ReadModelStore(app), poll_seconds=0.05, recheck_seconds=60, linger_seconds=0.1
    )
    if source == "cross-process":
        watcher.signal = PositionSignal()

    async def woken_after_commit() -> float:
        with watcher.waiter("complaint_list", position) as waiter:
            await asyncio.sleep(0.3)  # the watcher is listening (or polling) by now
            await asyncio.to_thread(runner.catch_up)
            committed = time.monotonic()
            await asyncio.wait_for(waiter.reached.wait(), 5)
            return time.monotonic() - committed

    try:
        assert asyncio.run(woken_after_commit()) < bound
        # Nobody waits any more: the watcher's thread (and its session) ends.
        assert eventually(lambda: watcher._thread is None, 5)  # noqa: SLF001
    finally:
        watcher.close()


@pytest.fixture
def other_database(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second store beside the test's: another SQLite file, or another schema of the same
    PostgreSQL database (as another deployment or tenant would have)."""
    if settings.database_url.startswith("sqlite"):
        yield settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'other.db'}"})
        return
    url = urlsplit(settings.database_url)
    schema = f"{parse_qs(url.query)['schema'][0]}_other"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    try:
        other_url = urlunsplit(url._replace(query=urlencode({"schema": schema})))
        yield settings.model_copy(update={"database_url": other_url})
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_positions_committed_in_another_store_wake_no_waiter(
    app: ComplaintsApp, settings: Settings, ctx: CommandContext, other_database: Settings
) -> None:
    """Found on PostgreSQL: every schema of a database announced positions on one channel, so a
    busy neighbour's commits woke our waiters, and the read that followed saw a view that had not
    caught up. Our own commit still wakes the waiter at once (the control)."""
    position = file(app, ctx)
    runner = Runner(app, build(["complaint_list"]))
    watcher = PositionWatcher(
        ReadModelStore(app), poll_seconds=0.05, recheck_seconds=60, linger_seconds=0.1
    )
    neighbour = bootstrap(other_database)
    elsewhere = neighbour.read_models

    def commit_elsewhere() -> None:
        far = {"complaint_list": position + 1_000_000}
        with elsewhere.write() as tx:  # as its runner does: NOTIFY at commit, then the signal
            elsewhere.announce(tx, far)
        signal_for(elsewhere.identity).publish(far)

    async def woken() -> tuple[bool, float]:
        with watcher.waiter("complaint_list", position) as waiter:
            await asyncio.sleep(0.3)  # the watcher is listening (or polling) by now
            await asyncio.to_thread(commit_elsewhere)
            await asyncio.sleep(0.5)
            by_the_neighbour = waiter.reached.is_set()
            await asyncio.to_thread(runner.catch_up)
            committed = time.monotonic()
            await asyncio.wait_for(waiter.reached.wait(), 5)
            return by_the_neighbour, time.monotonic() - committed

    try:
        by_the_neighbour, after_our_commit = asyncio.run(woken())
    finally:
        watcher.close()
        neighbour.close()
    assert not by_the_neighbour
    assert after_our_commit < 0.5
