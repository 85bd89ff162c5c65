"""Errors raised by read-side queries; ``api`` maps them to problem details."""

from __future__ import annotations


class InvalidQueryError(ValueError):
    """Raised when a query parameter is well-typed but unusable (a foreign cursor, a bad range)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ProjectionBehindError(TimeoutError):
    """Raised when a projection has not reached the position a reader asked for in time."""

    def __init__(self, projection: str, position: int, wanted: int) -> None:
        super().__init__(
            f"the {projection} view has processed up to {position}, not yet {wanted}; retry shortly"
        )
        self.projection = projection
        self.position = position
        self.wanted = wanted
