"""Whose fault a failed batch is: the event's (quarantine it) or the environment's (retry later).

An event is quarantined only when applying it fails on its own with an error its *data* can cause:
a value out of range, a constraint it breaks, a handler that cannot make sense of it. Anything the
database or its connection can do to any batch (a lost connection, a lock or statement timeout,
SQLITE_BUSY, a deadlock, a full disk, a missing table, a revoked privilege) says nothing about the
event: the runner backs off and retries the same batch, and nothing is quarantined, so a database
restart can never empty a view into the dead-letter table.

Errors reach us either raw (the driver's) or wrapped by the eventsourcing library's datastore
(``OperationalError(str(e)) from e``); the first driver error in the chain of causes decides, as
the database classifies it (``Database.blames_the_data``).
"""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError

DriverVerdict = Callable[[BaseException], bool | None]
"""A database's verdict on one error: True (data can cause it), False (only the environment),
None (not its driver's error)."""


class ProjectionFaultError(RuntimeError):
    """Raised when a projection fails even with no events to apply: its fault, not an event's."""


def _causes(error: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__
    return chain


def blames_the_event(error: BaseException, driver_verdict: DriverVerdict) -> bool:
    """Whether ``error``, raised while applying events, may be the events' fault."""
    for cause in _causes(error):
        verdict = driver_verdict(cause)
        if verdict is not None:
            return verdict
    environmental = (
        StoreOperationalError, StoreInterfaceError, ConnectionError, TimeoutError,
        ProjectionFaultError,
    )
    return not isinstance(error, environmental)


def error_class(error: BaseException) -> str:
    kind = type(error)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"{module}{kind.__qualname__}"
