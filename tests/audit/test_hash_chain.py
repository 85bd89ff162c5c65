"""Every write path stores each event's prev_hash and hash (docs/audit.md), the same bytes on
SQLite (computed in Python) and PostgreSQL (computed by the insert trigger)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent, Tracking

from aggregates.audit_chain import GENESIS, event_hash
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import CommentOnComplaint, FileComplaint
from infra.bootstrap import bootstrap
from infra.settings import Settings
from projections.database import ChainRow, database_of
from tests.conftest import POSTGRES_URL, reset_schema
from tests.intake import intake


def assert_chained(rows: list[ChainRow]) -> None:
    heads: dict[UUID, bytes] = {}
    for row in sorted(rows, key=lambda r: (r.originator_id.bytes, r.originator_version)):
        prev = heads.get(row.originator_id, GENESIS) if row.originator_version > 1 else GENESIS
        assert row.prev_hash == prev, row
        assert row.hash == event_hash(
            prev, row.originator_id, row.originator_version, row.topic, row.state
        )
        heads[row.originator_id] = row.hash


def some_events(count: int = 3) -> list[StoredEvent]:
    originator = UUID("0f0e0d0c-0b0a-0908-0706-050403020100")
    return [
        StoredEvent(originator, v, "tests:Événement", f"state {v} \x00\xff".encode("latin-1"))
        for v in range(1, count + 1)
    ]


def test_commands_store_a_chain_over_every_aggregate(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    filed = app.file_complaint(FileComplaint(**intake()), ctx)
    app.handle(filed.complaint_id, CommentOnComplaint(body="One", visibility="internal"), ctx)
    app.handle(filed.complaint_id, CommentOnComplaint(body="Two", visibility="internal"), ctx)
    rows = list(database_of(app).chain_rows(0, 1000))
    # The complaint, its reference index and its access code (issue 12).
    assert len({r.originator_id for r in rows}) == 3
    assert max(r.originator_version for r in rows) == 4
    assert_chained(rows)


def test_one_insert_of_several_events_of_one_aggregate_chains_them(app: ComplaintsApp) -> None:
    database = database_of(app)
    events = some_events(4)
    database.insert_events(events[:1])
    database.insert_events(events[1:])  # versions 2..4 in one insert: the batch links itself
    assert_chained(list(database.chain_of(events[0].originator_id)))


def test_one_insert_of_interleaved_aggregates_chains_each(app: ComplaintsApp) -> None:
    """Group commit writes many aggregates in one insert, each possibly several versions."""
    database = database_of(app)
    first, second = some_events(2), [replace(e, originator_id=uuid4()) for e in some_events(2)]
    database.insert_events([first[0], second[0], first[1], second[1]])
    for events in (first, second):
        assert_chained(list(database.chain_of(events[0].originator_id)))


def test_the_librarys_insert_with_tracking_chains_too(app: ComplaintsApp) -> None:
    database = database_of(app)
    events = some_events(2)
    database.insert_events(events, tracking=Tracking(application_name="x", notification_id=1))
    assert_chained(list(database.chain_of(events[0].originator_id)))


def test_bulk_appends_chain_onto_what_is_stored(app: ComplaintsApp) -> None:
    database = database_of(app)
    events = some_events(5)
    database.insert_events(events[:2])
    database.append_in_bulk(events[2:])
    database.append_in_bulk(replace(e, originator_id=uuid4()) for e in events)
    rows = list(database.chain_rows(0, 100))
    assert len(rows) == 10
    assert_chained(rows)


def test_both_stores_give_byte_identical_hashes(tmp_path: Path, postgres_schema: str) -> None:
    """The canonical encoding is the contract: SQLite's Python and PostgreSQL's trigger agree,
    byte for byte, with each other and with ``event_hash``."""
    reset_schema(postgres_schema)
    hashes = []
    for url in (f"sqlite:///{tmp_path / 'a.db'}", f"{POSTGRES_URL}?schema={postgres_schema}"):
        settings = Settings(database_url=url, secret_key_file=str(tmp_path / "key"))
        with bootstrap(settings) as services:
            database = database_of(services.app)
            database.insert_events(some_events(3))
            rows = database.chain_of(some_events()[0].originator_id)
            hashes.append([(r.prev_hash, r.hash) for r in rows])
    expected, prev = [], GENESIS
    for e in some_events(3):
        digest = event_hash(prev, e.originator_id, e.originator_version, e.topic, e.state)
        expected.append((prev, digest))
        prev = digest
    assert hashes[0] == hashes[1] == expected


def test_a_sqlite_store_from_before_the_chain_is_chained_on_start(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the library's table as it was
        conn.execute(
            "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        conn.executemany(
            "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
            [(e.originator_id.hex, e.originator_version, e.topic, e.state) for e in some_events(3)],
        )
    settings = Settings(database_url=f"sqlite:///{path}", secret_key_file=str(tmp_path / "k"))
    for _ in range(2):  # and a second start changes nothing
        with bootstrap(settings) as services:
            rows = list(database_of(services.app).chain_rows(0, 100))
    assert [r.position for r in rows] == [1, 2, 3]
    assert_chained(rows)


def test_a_postgres_store_from_before_the_chain_is_chained_on_start(
    tmp_path: Path, postgres_schema: str
) -> None:
    import psycopg

    reset_schema(postgres_schema)
    url = f"{POSTGRES_URL}?schema={postgres_schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        table = f'"{postgres_schema}".complaints_events'
        conn.execute(
            f"CREATE TABLE {table} (originator_id uuid NOT NULL, originator_version bigint NOT "
            "NULL, topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        for e in some_events(3):
            conn.execute(
                f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
                " VALUES (%s, %s, %s, %s)",
                (e.originator_id, e.originator_version, e.topic, e.state),
            )
    settings = Settings(database_url=url, secret_key_file=str(tmp_path / "k"))
    for _ in range(2):
        with bootstrap(settings) as services:
            rows = list(database_of(services.app).chain_rows(0, 100))
    assert [r.position for r in rows] == [1, 2, 3]
    assert_chained(rows)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5])
def test_merkle_root_changes_with_any_head(count: int) -> None:
    from aggregates.audit_chain import ChainHead, merkle_root

    heads = [ChainHead(uuid4(), i + 1, bytes([i]) * 32) for i in range(count)]
    root = merkle_root(heads)
    assert merkle_root(list(reversed(heads))) == root  # sorted by id, whatever the order
    for i in range(count):
        changed = heads.copy()
        changed[i] = replace(heads[i], version=heads[i].version + 1)
        assert merkle_root(changed) != root
        assert merkle_root(heads[:i] + heads[i + 1 :]) != root
