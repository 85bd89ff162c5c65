"""In-process news of committed projection positions, for readers waiting on ``?min_position=``.

``complaints serve`` runs the projections in a background thread on an application of its own, and
the API builds another one; both name the same database (``ReadModelStore.identity``), so they meet
here: the runner publishes each batch's positions right after its commit, and a waiting reader
wakes at once, with no query. Readers in other processes learn the same from PostgreSQL NOTIFY or,
on SQLite, by polling (``projections/position_watcher.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

Listener = Callable[[Mapping[str, int]], None]


class PositionSignal:
    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.add(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def publish(self, positions: Mapping[str, int]) -> None:
        """Called by a runner after a commit; listeners must be quick (they only wake waiters)."""
        if not positions:
            return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(positions)
            except Exception:  # a reader's bug must not stop the runner
                log.exception("position listener failed")


_signals: dict[str, PositionSignal] = {}
_signals_lock = threading.Lock()


def signal_for(database: str) -> PositionSignal:
    """The process's signal for one database (created on first use)."""
    with _signals_lock:
        found = _signals.get(database)
        if found is None:
            found = _signals[database] = PositionSignal()
        return found
