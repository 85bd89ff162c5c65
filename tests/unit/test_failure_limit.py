"""The tracking page's limit on wrong access codes (api/failure_limit.py)."""

from __future__ import annotations

from api.failure_limit import FailureLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_the_limit_until_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    limit = FailureLimit(3, 60, clock=clock)
    keys = ["reference:C-1", "client:a"]
    for _ in range(3):
        assert limit.retry_after(keys) is None
        limit.fail(keys)
        clock.now += 10
    assert limit.retry_after(keys) == 30  # now 1030; the first failure (1000) leaves at 1060
    assert limit.retry_after(["client:a"]) == 30 and limit.retry_after(["client:b"]) is None
    clock.now += 29
    assert limit.retry_after(keys) == 1
    clock.now += 1
    assert limit.retry_after(keys) is None


def test_keys_are_bounded() -> None:
    limit = FailureLimit(1, 60, max_keys=10, clock=Clock())
    for n in range(50):
        limit.fail([f"client:{n}"])
    assert limit.retry_after(["client:0"]) is None and limit.retry_after(["client:49"]) == 60
