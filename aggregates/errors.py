"""Domain errors. The API maps each to one HTTP problem type (see ``api/problems.py``)."""

from __future__ import annotations


class DomainError(Exception):
    """Raised when a command breaks a rule of the domain."""


class IllegalTransitionError(DomainError):
    """Raised when a command is not allowed in the complaint's current status."""


class InvalidIntakeError(DomainError):
    """Raised when an intake record lacks a required field or a value is outside its vocabulary."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
