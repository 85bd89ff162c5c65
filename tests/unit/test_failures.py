"""Whose fault a failed batch is: the event's (quarantine) or the environment's (back off)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import DataError, OperationalError
from psycopg_pool import PoolTimeout

from projections.failures import ProjectionFaultError, blames_the_event, error_class
from projections.runner import back_off


def wrapped(cause: Exception, wrapper: type[Exception]) -> Exception:
    """As the library's datastore raises it: ``wrapper(str(e)) from e``."""
    try:
        raise wrapper(str(cause)) from cause
    except wrapper as e:
        return e


def sqlite_error(kind: type[sqlite3.Error], code: int, message: str) -> sqlite3.Error:
    error = kind(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("error", [
    OverflowError("date value out of range"),
    ValueError("cannot transcribe"),
    KeyError("customer"),
    psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
    wrapped(psycopg.DataError("PostgreSQL text fields cannot contain NUL"), DataError),
    psycopg.errors.NumericValueOutOfRange("bigint out of range"),
    psycopg.errors.CardinalityViolation("ON CONFLICT DO UPDATE command cannot affect row twice"),
    psycopg.errors.ProgramLimitExceeded("index row size exceeds btree maximum"),
    sqlite_error(sqlite3.IntegrityError, sqlite3.SQLITE_CONSTRAINT_NOTNULL, "NOT NULL failed"),
    sqlite3.ProgrammingError("Error binding parameter 3: type 'dict' is not supported"),
], ids=error_class)
def test_errors_data_can_cause_blame_the_event(error: Exception) -> None:
    assert blames_the_event(error)


@pytest.mark.parametrize("error", [
    psycopg.OperationalError("server closed the connection unexpectedly"),
    wrapped(psycopg.OperationalError("connection lost"), OperationalError),
    psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
    psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
    psycopg.errors.SerializationFailure("could not serialize access"),
    psycopg.errors.DeadlockDetected("deadlock detected"),
    psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    psycopg.errors.UndefinedTable('relation "complaint_list" does not exist'),
    psycopg.errors.InsufficientPrivilege("permission denied"),
    PoolTimeout("couldn't get a connection after 30 sec"),
    sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_BUSY, "database is locked"),
    sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_IOERR_SHORT_READ, "disk I/O error"),
    sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_ERROR, "no such table: tracking"),
    sqlite3.OperationalError("database is locked"),
    OperationalError("connection pool exhausted"),
    ProjectionFaultError("fails even without events"),
], ids=error_class)
def test_errors_of_the_environment_do_not(error: Exception) -> None:
    assert not blames_the_event(error)


def test_back_off_doubles_up_to_its_ceiling() -> None:
    assert [back_off(n, 1.0, 60.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert back_off(10_000, 1.0, 60.0) == 60
