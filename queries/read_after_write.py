"""Read-your-writes: wait (bounded) until a view has processed a given event-store position.

The wait holds no thread: the request awaits an event that the position watcher sets when the view
commits the position (``projections/position_watcher.py``). Only the two short reads (the head and
the view's position; again after a timeout) run in a worker thread. A position beyond the store's
head is refused at once (no commit can ever reach it); concurrent waits are capped per process.
"""

from __future__ import annotations

import asyncio

from projections.position_watcher import PositionWatcher
from projections.store import ReadModelStore
from queries.errors import PositionBeyondHeadError, ProjectionBehindError, TooManyWaitersError


def _head_and_position(store: ReadModelStore, projection: str) -> tuple[int, int]:
    return store.app.recorder.max_notification_id() or 0, store.position(projection)


async def wait_for_position(
    watcher: PositionWatcher,
    projection: str,
    min_position: int | None,
    *,
    timeout: float,
    max_waiters: int,
) -> None:
    if min_position is None:
        return
    if watcher.waiting >= max_waiters:
        raise TooManyWaitersError(max_waiters)
    store = watcher.store
    with watcher.waiter(projection, min_position) as waiter:
        head, position = await asyncio.to_thread(_head_and_position, store, projection)
        if min_position > head:
            raise PositionBeyondHeadError(min_position, head)
        if position >= min_position:
            return
        try:
            await asyncio.wait_for(waiter.reached.wait(), timeout)
            return
        except TimeoutError:
            pass
    position = await asyncio.to_thread(store.position, projection)
    if position < min_position:
        raise ProjectionBehindError(projection, position, min_position)
