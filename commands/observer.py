"""What the write side tells whoever watches it (metrics): each command's type, outcome and time.

A port: ``commands/`` must not know Prometheus (``infra/`` is above it), so the application calls
a ``CommandObserver`` that does nothing until the composition root plugs in the metrics
(``infra/metrics.py``)."""

from __future__ import annotations

from typing import Protocol

from aggregates.errors import DomainError, FieldError
from commands.errors import (
    ConcurrencyConflictError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    PreconditionFailedError,
)

OK = "ok"
REPLAYED = "replayed"
"""An idempotent retry answered from its record; nothing written."""
CONFLICT = "conflict"
PRECONDITION_FAILED = "precondition_failed"
REJECTED = "rejected"
"""Refused by a rule, a field, the caller's permissions, or naming nothing that exists."""
FAILED = "failed"
"""Anything else (the database away, a bug): the command may be retried."""
OUTCOMES = (OK, REPLAYED, CONFLICT, PRECONDITION_FAILED, REJECTED, FAILED)


class CommandObserver(Protocol):
    def command_done(self, command: str, outcome: str, seconds: float) -> None:
        """``command``: the command's class name; ``outcome``: one of ``OUTCOMES``;
        ``seconds``: from the start of its decision to its answer (its commit awaited)."""
        ...


class Unobserved:
    """The default: nobody watches."""

    def command_done(self, command: str, outcome: str, seconds: float) -> None:
        return None


def outcome_of(error: BaseException) -> str:
    """The outcome a command that raised ``error`` is counted under."""
    if isinstance(error, ConcurrencyConflictError):
        return CONFLICT
    if isinstance(error, PreconditionFailedError):
        return PRECONDITION_FAILED
    if isinstance(
        error, DomainError | FieldError | ForbiddenError | IdempotencyKeyReusedError | LookupError
    ):
        return REJECTED
    return FAILED
