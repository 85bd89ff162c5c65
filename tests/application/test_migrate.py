"""``complaints migrate`` on a store that does not exist yet: it creates what the URL names (the
PostgreSQL schema of ``?schema=``, the SQLite file and its directory), and processes started
after it with ``COMPLAINTS_CREATE_TABLES=false`` work on it. The deployment runs it first
(compose.yaml, docs/deployment.md)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import cli
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import bootstrap
from infra.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.intake import intake


@pytest.fixture(params=["sqlite", "postgres"])
def new_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store nothing has created: a SQLite file in a directory not yet made, or a schema
    dropped if it exists."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new' / 'complaints.db'}"
    schema = request.getfixturevalue("postgres_schema")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return f"{POSTGRES_URL}?schema={schema}"


def test_migrate_creates_a_new_store_and_processes_without_ddl_work_on_it(
    new_store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctx: CommandContext
) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", new_store_url)
    answer = CliRunner().invoke(cli, ["migrate"])
    assert answer.exit_code == 0, answer.output
    settings = Settings(
        database_url=new_store_url,
        create_tables=False,
        secret_key_file=str(tmp_path / "secret.key"),
        admin_token_file=str(tmp_path / "admin-token"),
    )
    with bootstrap(settings) as services:
        filed = services.app.file_complaint(FileComplaint.model_validate(intake()), ctx)
        assert filed.version == 2
