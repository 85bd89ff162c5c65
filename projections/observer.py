"""What the projection runner tells whoever watches it (metrics): the size of each batch it
applied. A port with a no-op default; ``infra/metrics.py`` plugs in the Prometheus one."""

from __future__ import annotations

from typing import Protocol


class BatchObserver(Protocol):
    def batch_applied(self, projection: str, events: int) -> None:
        """A batch of ``events`` (of the projection's topics) committed with its position."""
        ...


class Unobserved:
    def batch_applied(self, projection: str, events: int) -> None:
        return None
