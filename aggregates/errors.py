"""Domain errors. The API maps each to one HTTP problem type (see ``api/problems.py``)."""

from __future__ import annotations


class FieldError(Exception):
    """Raised when one named field's value is unusable: the API answers 422 naming the field and
    the reason (one entry of the problem's ``errors``), whichever layer found it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class DomainError(Exception):
    """Raised when a command breaks a rule of the domain."""


class IllegalTransitionError(DomainError):
    """Raised when a command is not allowed in the complaint's current status."""


class InvalidIntakeError(DomainError, FieldError):
    """Raised when an intake record lacks a required field or a value is outside its vocabulary."""


class SlaRecordRefusedError(IllegalTransitionError):
    """Raised when a warning or breach of an SLA clock does not apply: already recorded for that
    metric and cycle, the clock met in time or paused, or the deadline named is not the clock's
    current one (the deadline watcher skips it)."""


class RemedyNotFoundError(DomainError, LookupError):
    """Raised when a complaint has no remedy with the given id (404)."""


class SurveyNotFoundError(DomainError, LookupError):
    """Raised for a survey token that is unknown, superseded by a later close, or expired (404)."""
