"""Whose fault a failed batch is: the event's (quarantine it) or the environment's (retry later).

An event is quarantined only when applying it fails on its own with an error its *data* can cause:
a value out of range, a constraint it breaks, a handler that cannot make sense of it. Anything the
database or its connection can do to any batch (a lost connection, a lock or statement timeout,
SQLITE_BUSY, a deadlock, a full disk, a missing table, a revoked privilege) says nothing about the
event: the runner backs off and retries the same batch, and nothing is quarantined, so a database
restart can never empty a view into the dead-letter table.

Errors reach us either raw (psycopg, sqlite3) or wrapped by the eventsourcing library's datastore
(``OperationalError(str(e)) from e``); the wrapped cause decides.
"""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError

# SQLSTATE classes that no data value can cause: connection (08), transaction rollback:
# serialization failure, deadlock (40), insufficient resources (53), object not in prerequisite
# state: lock not available (55), operator intervention: query cancelled, admin shutdown (57),
# system error (58), syntax or access rule: undefined table or column, privilege (42), invalid
# schema (3F), authorization (28), aborted transaction (25), internal error (XX).
POSTGRES_ENVIRONMENT_CLASSES = frozenset(
    {"08", "25", "28", "3F", "40", "42", "53", "55", "57", "58", "XX"}
)

# SQLite primary result codes that no data value can cause: ERROR (no such table, syntax), PERM,
# ABORT, BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL,
# SCHEMA, NOTADB. Data can cause TOOBIG, CONSTRAINT, MISMATCH and RANGE, which are not here.
SQLITE_ENVIRONMENT_CODES = frozenset({1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 17, 26})


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


def blames_the_event(error: BaseException) -> bool:
    """Whether ``error``, raised while applying events, may be the events' fault."""
    for cause in _causes(error):
        if isinstance(cause, psycopg.Error):
            state = cause.sqlstate
            if state is None:
                # Raised by the client: a lost connection or pool timeout (Operational,
                # Interface), or a value it cannot send (DataError: a NUL in text).
                return not isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError)
            return state[:2] not in POSTGRES_ENVIRONMENT_CLASSES
        if isinstance(cause, sqlite3.Error):
            code = getattr(cause, "sqlite_errorcode", None)
            if code is None:
                # No result code: raised by the module itself, e.g. a value it cannot bind
                # (InterfaceError, ProgrammingError), unless it is about the connection.
                return not isinstance(cause, sqlite3.OperationalError)
            return code & 0xFF not in SQLITE_ENVIRONMENT_CODES
    environmental = (
        StoreOperationalError, StoreInterfaceError, ConnectionError, TimeoutError,
        ProjectionFaultError,
    )
    return not isinstance(error, environmental)


def error_class(error: BaseException) -> str:
    kind = type(error)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"{module}{kind.__qualname__}"
