"""In-process limit on failed access-code checks (the tracking page): after ``max_failures``
failures within ``window_seconds`` for one reference, or from one client address, further
attempts are answered 429 with ``Retry-After`` until the oldest failure leaves the window, even
with the right code (a guesser must not learn when it hits).

Per process: with ``serve --workers N`` each worker counts on its own, so a guesser gets at most
N times the limit; 80-bit codes make that irrelevant, and the limit is there to make guessing
visibly fail, not to be the only defence. Memory is bounded: keys with no failure in the window
are dropped, and beyond ``max_keys`` the oldest keys go first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence


class FailureLimit:
    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, keys: Sequence[str]) -> int | None:
        """Seconds until ``keys`` may try again, or ``None`` if none of them is blocked."""
        now = self.clock()
        waits = []
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if failures is not None and len(failures) >= self.max_failures:
                    waits.append(failures[-self.max_failures] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def fail(self, keys: Sequence[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if failures is None:
                    failures = self._failures[key] = deque(maxlen=self.max_failures)
                failures.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures
