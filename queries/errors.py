"""Errors raised by read-side queries; ``api`` maps them to problem details."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from aggregates.errors import FieldError

if TYPE_CHECKING:
    from queries.audit_verify import ChainBreak


class InvalidQueryError(FieldError, ValueError):
    """Raised when a query parameter is well-typed but unusable (a foreign cursor, a bad range)."""


class ProjectionBehindError(TimeoutError):
    """Raised when a projection has not reached the position a reader asked for in time."""

    def __init__(self, projection: str, position: int, wanted: int) -> None:
        super().__init__(
            f"the {projection} view has processed up to {position}, not yet {wanted}; retry shortly"
        )
        self.projection = projection
        self.position = position
        self.wanted = wanted


class PositionBeyondHeadError(InvalidQueryError):
    """Raised when a reader waits for a position the event store has not reached (no command
    has returned it, so no view ever will)."""

    def __init__(self, wanted: int, head: int) -> None:
        super().__init__(
            "min_position",
            f"{wanted} is beyond the event store's head ({head}); pass the "
            "`position` a command returned",
        )
        self.wanted = wanted
        self.head = head


class TooManyWaitersError(RuntimeError):
    """Raised when this process already holds as many read-your-writes waits as allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"{limit} requests are already waiting for views to catch up; retry shortly"
        )
        self.limit = limit


class UndecodableEventError(RuntimeError):
    """Raised when a stored event of a complaint no longer decodes (a sealed field does not open
    where it is: moved or rewritten around the application); carries what its chain says, so
    the answer tells tampering (breaks) from damage the chain cannot see (none)."""

    def __init__(
        self, complaint_id: UUID, version: int, reason: str, chain_breaks: list[ChainBreak]
    ) -> None:
        verdict = (
            f"its hash chain is broken at {len(chain_breaks)} event(s)"
            if chain_breaks
            else "its hash chain verifies"
        )
        super().__init__(
            f"event {version} of complaint {complaint_id} does not decode ({reason}); {verdict}"
        )
        self.complaint_id = complaint_id
        self.version = version
        self.chain_breaks = chain_breaks
