"""A read-then-write transaction on our own SQLite tables waits for the write lock, never fails.

Found by the fuzzer (bench/fuzz.py): ``POST .../redeliver`` counted the queue, then inserted, and
answered 500 "database is locked" when the projection runner (another connection pool in the
same process) committed in between. SQLite only: PostgreSQL has no such lock upgrade.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from infra.bootstrap import bootstrap
from infra.settings import Settings
from stream.store_tables import StoreTables


def test_a_read_then_write_transaction_survives_a_commit_by_another_connection(
    tmp_path: Path,
) -> None:
    database = tmp_path / "complaints.db"
    services = bootstrap(Settings(database_url=f"sqlite:///{database}"))
    tables = StoreTables(services.app, "probe")
    with tables.cursor(commit=True) as cursor:
        cursor.execute(tables.sql("CREATE TABLE IF NOT EXISTS {probe} (n INTEGER)"))
    has_read, other_committed = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def read_then_write() -> None:
        try:
            with tables.cursor(commit=True) as cursor:
                cursor.execute(tables.sql("SELECT COUNT(*) FROM {probe}"))
                has_read.set()
                other_committed.wait(0.5)  # with the fix, the other writer waits for us instead
                cursor.execute(tables.sql("INSERT INTO {probe} (n) VALUES (1)"))
        except BaseException as e:  # reported to the test thread
            errors.append(e)

    worker = threading.Thread(target=read_then_write)
    worker.start()
    assert has_read.wait(5)
    other = sqlite3.connect(database, timeout=5, isolation_level=None)
    other.execute("INSERT INTO probe (n) VALUES (2)")
    other_committed.set()
    worker.join(10)
    services.close()

    assert errors == []
    assert sorted(n for (n,) in other.execute("SELECT n FROM probe")) == [1, 2]
    other.close()
