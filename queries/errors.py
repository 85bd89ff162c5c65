"""Errors raised by read-side queries; ``api`` maps them to problem details."""

from __future__ import annotations

from aggregates.errors import FieldError


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
            "min_position", f"{wanted} is beyond the event store's head ({head}); pass the "
            "`position` a command returned"
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
