"""Bounded waits for tests: poll a condition until it holds or a deadline passes.

Never a fixed sleep: a test waits only as long as the thing it waits for takes, and a bound
turns a hang into a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_SECONDS = 0.01


def eventually(condition: Callable[[], object], seconds: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``seconds`` (checked once more at the deadline)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_SECONDS)
    return bool(condition())
