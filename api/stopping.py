"""How a process is asked to stop: SIGTERM (an orchestrator, ``docker stop``, systemd) or SIGINT
(Ctrl-C) sets an event, and the worker loops that watch it finish what they are doing (a
projection batch commits, a delivery ends), release their locks and return, so the process exits
through its ``with bootstrap(...)`` block (the group-commit writer flushed, the store closed)
instead of dying where it stood."""

from __future__ import annotations

import signal
import threading


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT of this process (main thread only)."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)
    return stop
