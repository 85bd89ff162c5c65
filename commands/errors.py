"""Errors of the write side that are not domain rules (those live in ``aggregates/errors.py``)."""

from __future__ import annotations

from aggregates.errors import FieldError


class ComplaintNotFoundError(LookupError):
    """Raised when no complaint has the given id or reference."""


class PreconditionFailedError(Exception):
    """Raised when ``If-Match`` names a version other than the complaint's current one."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"the complaint is at version {actual}, not {expected}")
        self.expected, self.actual = expected, actual


class ConcurrencyConflictError(Exception):
    """Raised when another writer saved the complaint between our read and our write."""


class IdempotencyKeyReusedError(Exception):
    """Raised when an idempotency key is replayed with a different command."""


class TokenNotFoundError(LookupError):
    """Raised when no access token matches the given id or name."""


class CustomerNotFoundError(LookupError):
    """Raised when no complaint, data key or erasure record names the given customer id."""


class ForbiddenError(PermissionError):
    """Raised when the principal's role or scope does not allow the action (issue 11)."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"{action}: {reason}")
        self.action, self.reason = action, reason


class ImportMappingError(FieldError):
    """Raised when an import's mapping is unusable: unknown, malformed, or reading columns the
    sheet does not have (field ``mapping``)."""

    def __init__(self, reason: str) -> None:
        super().__init__("mapping", reason)


class ImportNotFoundError(LookupError):
    """Raised when no import job has the given id."""
