"""Pooled connections the server closed are replaced before use, without a round trip per
checkout (infra/databases/postgres.py ``ping_if_readable``). PostgreSQL only: SQLite has no
server to drop a connection."""

from __future__ import annotations

from pathlib import Path

import psycopg

from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import bootstrap
from infra.settings import Settings
from tests.conftest import POSTGRES_URL, reset_schema
from tests.intake import intake


def test_a_connection_the_server_dropped_is_replaced_without_an_error(
    postgres_schema: str, tmp_path: Path, ctx: CommandContext
) -> None:
    reset_schema(postgres_schema)
    settings = Settings(
        database_url=f"{POSTGRES_URL}?schema={postgres_schema}",
        pool_size=1,
        pool_max_overflow=0,
        secret_key_file=str(tmp_path / "secret.key"),
        admin_token_file=str(tmp_path / "admin-token"),
    )
    with bootstrap(settings) as services:
        datastore = services.app.recorder.datastore  # type: ignore[attr-defined]
        with datastore.get_connection() as conn:
            pid = conn.info.backend_pid
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits for it
        # Our own read (no retry around it) and a command both work at once.
        with services.read_models.read() as tx:
            assert tx.rows("SELECT 1 AS one") == [{"one": 1}]
        filed = services.app.file_complaint(FileComplaint.model_validate(intake()), ctx)
        assert filed.version == 2
        with datastore.get_connection() as conn:
            assert conn.info.backend_pid != pid
