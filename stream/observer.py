"""What the webhook worker tells whoever watches it (metrics): each delivery attempt's outcome.
A port with a no-op default; ``infra/metrics.py`` plugs in the Prometheus one."""

from __future__ import annotations

from typing import Protocol


class DeliveryObserver(Protocol):
    def delivered(self, subscription_id: str, *, succeeded: bool, manual: bool) -> None: ...


class Unobserved:
    def delivered(self, subscription_id: str, *, succeeded: bool, manual: bool) -> None:
        return None
