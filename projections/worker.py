"""What the command line does with a built runner besides running it: rebuild with it.

The runner itself is built by the composition root (``infra/bootstrap.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from projections.runner import Runner

FOLLOW_SECONDS = 0.2


def rebuild(runner: Runner, progress: Callable[[int, int], None]) -> None:
    """Drops and refills the runner's projections from event zero, up to the live head.

    A projection that another worker runs (it holds the lock) is reset and then only watched: that
    worker notices the reset (its next batch's claim fails), starts again from zero and does the
    work. Others are rebuilt here (``Runner.rebuild``: bulk batches, indexes built at the end), in
    one pass that decodes each event once for all of them.
    """
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
            head = runner.app.recorder.max_notification_id() or 0
            positions = store.positions(watched)
            report(positions, head)
            if min(positions.values()) >= head:
                break
            time.sleep(FOLLOW_SECONDS)
