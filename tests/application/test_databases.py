"""The database of an application: chosen from the URL, and one placeholder rewriting for both."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import CommentOnComplaint, FileComplaint
from infra.databases.postgres import PostgresDatabase
from infra.databases.sqlite import SQLiteDatabase
from infra.settings import Settings
from projections.database import DatabaseMissingError, database_of
from tests.intake import intake


def test_the_url_picks_the_database(app: ComplaintsApp, settings: Settings) -> None:
    expected = SQLiteDatabase if settings.database_url.startswith("sqlite") else PostgresDatabase
    assert type(database_of(app)) is expected


def test_statements_are_written_once_for_both_databases(app: ComplaintsApp) -> None:
    """``%s`` is a parameter and ``%%`` a percent sign on both (psycopg's rules; SQLite's
    dialect rewrites them): one statement, the same answer."""
    database = database_of(app)
    statement = database.dialect.sql("SELECT 'a%%b' AS literal, %s AS parameter, '%%s' AS kept")
    with database.transaction(commit=False) as cursor:
        cursor.execute(statement, ("x",))
        row = cursor.fetchone()
    assert (row["literal"], row["parameter"], row["kept"]) == ("a%b", "x", "%s")


def test_an_application_built_without_our_databases_is_refused() -> None:
    plain = Application[UUID](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    with pytest.raises(DatabaseMissingError, match="not one of our databases"):
        database_of(plain)


def test_the_events_after_a_version_are_the_stored_ones_from_there(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    """The repository's fast-forward (``gt`` alone) has its own statement on PostgreSQL: it
    reads what the whole stream holds after that version, in order, every field alike."""
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    for body in ("one", "two", "three"):
        app.handle(cid, CommentOnComplaint(body=body, visibility="internal"), ctx)
    everything = list(app.recorder.select_events(cid))
    for version in range(len(everything) + 1):
        after = list(app.recorder.select_events(cid, gt=version))
        assert after == [e for e in everything if e.originator_version > version]
    assert list(app.recorder.select_events(uuid4(), gt=0)) == []
