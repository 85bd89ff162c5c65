"""Who did something and why: recorded on every event."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provenance:
    """The acting principal and the request that caused an event.

    ``correlation_id`` ties together everything one request (or one automation chain) did;
    ``causation_id`` names the message that directly caused this one (a request id, or the id of
    the event that triggered an automation rule). ``rule`` names the rule, with its version, that
    took an automatic action (``"sensitive-terms@v1"``, ``"routing/vip@v3"``); ``None`` for a
    person's action. Only the events an automation can record carry it (``rule_fields``).
    """

    actor: str
    correlation_id: str
    causation_id: str | None = None
    rule: str | None = None

    def as_event_fields(self) -> dict[str, str | None]:
        return {
            "actor": self.actor,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }

    def rule_fields(self) -> dict[str, str | None]:
        """``as_event_fields`` plus the rule, for the events that record one."""
        return {**self.as_event_fields(), "rule": self.rule}


def rule_ref(rule_id: str, version: int) -> str:
    """How an event names the rule that caused it: ``<rule id>@v<version>``."""
    return f"{rule_id}@v{version}"


def rule_id_of(ref: str) -> str:
    """The rule id of a ``rule_ref`` (what the loop guard compares: any version of a rule)."""
    return ref.rpartition("@v")[0] or ref
