"""A SQLite store is readable by its owner alone: database, -wal and -shm files 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from commands.context import CommandContext
from infra.bootstrap import bootstrap
from infra.settings import Settings
from projections.database import database_of


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_and_its_directory_are_private(tmp_path: Path, ctx: CommandContext) -> None:
    database = tmp_path / "data" / "complaints.db"
    services = bootstrap(Settings(database_url=f"sqlite:///{database}"))
    try:
        services.app.tokens.issue("alice", "agent", ctx)  # a write: the -wal and -shm files exist
        files = [database, database.with_name("complaints.db-wal"), database.with_name(
            "complaints.db-shm"
        )]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(database.parent) == 0o700
    finally:
        services.close()


def test_an_older_world_readable_store_is_tightened_on_start(
    tmp_path: Path, ctx: CommandContext
) -> None:
    database = tmp_path / "complaints.db"
    url = f"sqlite:///{database}"
    with bootstrap(Settings(database_url=url)) as first:
        first.app.tokens.issue("alice", "agent", ctx)
    database.chmod(0o644)
    second = bootstrap(Settings(database_url=url))
    try:
        assert mode(database) == 0o600
        assert second.app.tokens.has_any()  # the same data, only the mode changed
    finally:
        second.close()


def test_lock_files_beside_the_store_are_private(tmp_path: Path) -> None:
    database = tmp_path / "complaints.db"
    services = bootstrap(Settings(database_url=f"sqlite:///{database}"))
    try:
        with database_of(services.app).coordinator(0.1) as coordinator:
            assert coordinator.acquire("complaint_list")
            lock = tmp_path / "complaints.db.complaint_list.lock"
            assert mode(lock) == 0o600
    finally:
        services.close()
