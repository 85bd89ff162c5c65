"""Raw SQL on the event table of a test store, around the recorder: what a tamperer would do."""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from commands.application import ComplaintsApp
from projections.database import database_of


def run_sql(database_url: str, app: ComplaintsApp, statement: str, *params: Any) -> int:
    """Runs ``statement`` (``{events}`` is the event table, ``{position}`` its position column,
    ``%s`` a parameter) on the store of ``database_url``; returns the rows it changed."""
    table = database_of(app).events_table_name  # type: ignore[attr-defined]
    if database_url.startswith("sqlite"):
        sql = statement.format(events=table, position="rowid").replace("%s", "?")
        with sqlite3.connect(database_url.split("///", 1)[1]) as conn:
            return conn.execute(sql, params).rowcount
    schema = parse_qs(urlsplit(database_url).query)["schema"][0]
    sql = statement.format(events=f'"{schema}"."{table}"', position="notification_id")
    with psycopg.connect(database_url.split("?", 1)[0], autocommit=True) as conn:
        return conn.execute(sql, params).rowcount  # type: ignore[arg-type]


def key(database_url: str, originator_id: Any) -> Any:
    """The originator id as the store keeps it."""
    return originator_id.hex if database_url.startswith("sqlite") else originator_id
