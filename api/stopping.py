"""How a process is asked to stop: SIGTERM (an orchestrator, ``docker stop``, systemd) or SIGINT
(Ctrl-C) sets an event, and the worker loops that watch it finish what they are doing (a
projection batch commits, a delivery ends), release their locks and return, so the process exits
through its ``with bootstrap(...)`` block (the group-commit writer flushed, the store closed)
instead of dying where it stood."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while the block runs (main thread only); the previous
    handlers are back afterwards (a CLI command run inside a test process leaves none behind)."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in _SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
