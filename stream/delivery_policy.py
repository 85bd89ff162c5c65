"""What the webhook worker and its sender need to know of the configuration, and nothing more.

Built from ``Settings`` at the edge (``infra/bootstrap.py``), so that the stream never imports
``infra``; tests build it from their own settings the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryPolicy:
    """Deadlines, retries, limits and reach of webhook deliveries (``COMPLAINTS_WEBHOOK_*``)."""

    timeout_seconds: float
    """Deadline of one attempt, from resolving the host to the last byte read of the answer."""
    retry_base_seconds: float
    """First retry delay; doubles after each consecutive failure."""
    retry_max_seconds: float
    """Retry delay ceiling."""
    max_failures: int
    """Consecutive failures after which a subscription is paused."""
    concurrency: int
    """Attempts in flight at once in one worker."""
    allowed_networks: tuple[str, ...]
    """CIDR networks reachable although not public (the SSRF policy refuses them otherwise)."""
    source: str
    """The CloudEvents ``source`` of every delivered event."""
    poll_seconds: float
    """How often to look for new events where the database announces none."""

    def retry_delay(self, failures: int) -> float:
        """Seconds to wait before the next attempt after ``failures`` consecutive failures."""
        return float(min(self.retry_base_seconds * 2 ** (failures - 1), self.retry_max_seconds))
