"""Composition of runners for the command line and for ``complaints serve``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from commands.application import ComplaintsApp
from infra.settings import Settings
from infra.wiring import build_app
from projections.registry import build
from projections.runner import BackgroundRunner, Runner

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 0.2


def runner_for(app: ComplaintsApp, settings: Settings, names: Sequence[str] = ()) -> Runner:
    return Runner(
        app,
        build(settings, names),
        page_size=settings.projection_page_size,
        bulk_page_size=settings.projection_bulk_page_size,
        poll_seconds=settings.projection_poll_seconds,
        batch_delay_seconds=settings.projection_batch_delay_seconds,
        retry_max_seconds=settings.projection_retry_max_seconds,
    )


def start_in_background(settings: Settings) -> BackgroundRunner:
    """All projections in a daemon thread of this process, on an application of their own (so
    that they survive ``serve`` closing its service before forking workers)."""
    return BackgroundRunner(runner_for(build_app(settings), settings)).start()


def rebuild(
    app: ComplaintsApp,
    settings: Settings,
    names: Sequence[str],
    progress: Callable[[int, int], None],
) -> None:
    """Drops and refills the named projections from event zero, up to the live head.

    A projection that another worker runs (it holds the lock) is reset and then only watched: that
    worker notices the reset (its next batch's claim fails), starts again from zero and does the
    work. Others are rebuilt here (``Runner.rebuild``: bulk batches, indexes built at the end), in
    one pass that decodes each event once for all of them.
    """
    runner = runner_for(app, settings, names)
    store = runner.store

    def report(positions: dict[str, int], head: int) -> None:
        progress(min(positions.values()), head)

    with runner.coordinator() as coordinator:
        mine = [p for p in runner.projections if coordinator.acquire(p.name)]
        for p in runner.projections:
            if p not in mine:
                store.reset(p.name, p.tables)
        runner.rebuild(mine, progress=report)
        watched = [p.name for p in runner.projections if p not in mine]
        while watched:
            head = app.recorder.max_notification_id() or 0
            positions = store.positions(watched)
            report(positions, head)
            if min(positions.values()) >= head:
                break
            time.sleep(FOLLOW_SECONDS)


def run_until_stopped(app: ComplaintsApp, settings: Settings, names: Sequence[str]) -> None:
    stop = threading.Event()
    runner = runner_for(app, settings, names)
    try:
        runner.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
