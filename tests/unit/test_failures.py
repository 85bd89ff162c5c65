"""Whose fault a failed batch is: the event's (quarantine) or the environment's (back off).

Each database classifies its own driver's errors (``Database.blames_the_data``); errors of neither
driver are judged the same on both.
"""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import DataError, OperationalError
from psycopg_pool import PoolTimeout

from infra.databases.postgres import PostgresDatabase
from infra.databases.sqlite import SQLiteDatabase
from projections.failures import DriverVerdict, ProjectionFaultError, blames_the_event, error_class
from projections.runner import back_off

BOTH: list[DriverVerdict] = [SQLiteDatabase.blames_the_data, PostgresDatabase.blames_the_data]


def verdicts(error: Exception) -> list[DriverVerdict]:
    """The databases on which ``error`` can occur: its driver's, or both for other errors."""
    for cause in (error, error.__cause__):
        if isinstance(cause, psycopg.Error):
            return [PostgresDatabase.blames_the_data]
        if isinstance(cause, sqlite3.Error):
            return [SQLiteDatabase.blames_the_data]
    return BOTH


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
    for verdict in verdicts(error):
        assert blames_the_event(error, verdict)


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
    for verdict in verdicts(error):
        assert not blames_the_event(error, verdict)


def test_a_database_judges_only_its_own_driver_errors() -> None:
    assert SQLiteDatabase.blames_the_data(psycopg.OperationalError("lost")) is None
    assert PostgresDatabase.blames_the_data(sqlite3.OperationalError("locked")) is None
    assert PostgresDatabase.blames_the_data(ValueError("not a driver error")) is None


def test_back_off_doubles_up_to_its_ceiling() -> None:
    assert [back_off(n, 1.0, 60.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert back_off(10_000, 1.0, 60.0) == 60
