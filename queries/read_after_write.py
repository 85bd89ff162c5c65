"""Read-your-writes: wait (bounded) until a view has processed a given event-store position."""

from __future__ import annotations

import time

from projections.store import ReadModelStore
from queries.errors import ProjectionBehindError

POLL_SECONDS = 0.02


def wait_for_position(
    store: ReadModelStore, projection: str, min_position: int | None, timeout: float
) -> None:
    if min_position is None:
        return
    deadline = time.monotonic() + timeout
    while True:
        position = store.position(projection)
        if position >= min_position:
            return
        if time.monotonic() >= deadline:
            raise ProjectionBehindError(projection, position, min_position)
        time.sleep(POLL_SECONDS)
