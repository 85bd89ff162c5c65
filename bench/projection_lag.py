"""Projection lag under load, for bench/load.py: from a command's acknowledgement to the moment
every projection has processed its position (rows and position commit in one transaction, so
then the command is visible in every view).

A thread of the load generator reads the projections' tracking positions straight from the
database every ``interval`` seconds (not through the loaded API, whose queueing would add to the
figure), so each figure carries up to ``interval`` of rounding up. Acknowledgements are matched
by the ``position`` field of the command's answer.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra.bootstrap import bootstrap
from infra.settings import Settings
from projections.registry import REGISTERED


@dataclass
class LagProbe:
    database_url: str
    interval: float = 0.01
    lags: list[float] = field(default_factory=list)
    """Seconds from acknowledgement to visibility, one per acknowledged command."""
    reached: int = 0
    """The lowest projection position last read (events applied, with ``reached`` at two
    moments: how many positions the views moved through in between)."""
    _pending: list[tuple[int, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def acknowledged(self, position: int) -> None:
        with self._lock:
            self._pending.append((position, time.perf_counter()))

    def start(self) -> LagProbe:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)  # the first positions read: ``reached`` counts from there
        return self

    def stop(self, drain_seconds: float = 30.0) -> int:
        """Waits up to ``drain_seconds`` for the views to reach every acknowledged command;
        returns how many never became visible in that time."""
        deadline = time.perf_counter() + drain_seconds
        while time.perf_counter() < deadline:
            with self._lock:
                if not self._pending:
                    break
            time.sleep(self.interval)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return len(self._pending)

    def _run(self) -> None:
        names = [cls.name for cls in REGISTERED]
        # The probe only reads positions; its files (the key bootstrap creates when none is
        # given) go to a directory of its own, not to the work tree's var/.
        files = Path(tempfile.mkdtemp(prefix="lag-probe-"))
        settings = Settings(
            database_url=self.database_url, create_tables=False, pool_size=1, pool_max_overflow=0,
            secret_key_file=str(files / "secret.key"), admin_token_file=str(files / "admin-token"),
        )
        with bootstrap(settings) as services:
            store = services.read_models
            while not self._stop.is_set():
                reached = self.reached = min(store.positions(names).values(), default=0)
                self._ready.set()
                now = time.perf_counter()
                with self._lock:
                    self.lags += [now - at for wanted, at in self._pending if wanted <= reached]
                    self._pending = [(w, a) for w, a in self._pending if w > reached]
                time.sleep(self.interval)
