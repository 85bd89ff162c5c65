"""Who did something and why: recorded on every event."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provenance:
    """The acting principal and the request that caused an event.

    ``correlation_id`` ties together everything one request (or one automation chain) did;
    ``causation_id`` names the message that directly caused this one (a request id, or the id of an
    event that triggered an automation rule), so later rule engines can record their chains.
    """

    actor: str
    correlation_id: str
    causation_id: str | None = None

    def as_event_fields(self) -> dict[str, str | None]:
        return {
            "actor": self.actor,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }
