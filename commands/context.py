"""Who is asking, on behalf of which request, and on what conditions."""

from __future__ import annotations

from dataclasses import dataclass, replace

from aggregates.provenance import Provenance
from commands.permissions import Actor


@dataclass(frozen=True)
class CommandContext:
    principal: str
    role: str
    correlation_id: str
    causation_id: str | None = None
    expected_version: int | None = None
    """Apply the command only if the complaint is still at this version (``If-Match``)."""
    idempotency_key: str | None = None
    """Apply the command at most once for this key (``Idempotency-Key``), per principal."""
    teams: tuple[str, ...] = ()
    """The teams the principal acts for: with ``role``, what it may reach (commands/permissions)."""

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.principal, self.correlation_id, self.causation_id)

    @property
    def actor(self) -> Actor:
        return Actor(self.principal, self.role, self.teams)

    def expecting(self, version: int) -> CommandContext:
        return replace(self, expected_version=version)

    def keyed(self, idempotency_key: str) -> CommandContext:
        return replace(self, idempotency_key=idempotency_key)
