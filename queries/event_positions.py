"""Notification ids (positions) of one aggregate's events.

Written by hand because the library's ``select_events`` returns stored events without their
notification ids, and a complaint's representation must carry the position of its last event.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier


def event_positions(app: Application[UUID], originator_id: UUID) -> dict[int, int]:
    """Maps each version of the aggregate to the notification id of its event."""
    recorder = app.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT originator_version, rowid FROM {recorder.events_table_name} "
                "WHERE originator_id = ?",
                (originator_id.hex,),
            )
            return {row[0]: row[1] for row in cursor.fetchall()}
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL(
            "SELECT originator_version, notification_id FROM {}.{} WHERE originator_id = %s"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (originator_id,))
            return {row["originator_version"]: row["notification_id"] for row in cursor.fetchall()}
    raise TypeError(f"unsupported recorder {type(recorder).__name__}")


def event_position(app: Application[UUID], originator_id: UUID, version: int) -> int | None:
    return event_positions(app, originator_id).get(version)
