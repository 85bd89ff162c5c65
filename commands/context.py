"""Who is asking, and on behalf of which request."""

from __future__ import annotations

from dataclasses import dataclass

from aggregates.provenance import Provenance


@dataclass(frozen=True)
class CommandContext:
    principal: str
    role: str
    correlation_id: str
    causation_id: str | None = None

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.principal, self.correlation_id, self.causation_id)
