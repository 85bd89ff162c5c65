"""Shared fixtures: every storage-touching test runs on SQLite and on PostgreSQL.

PostgreSQL: one fresh schema per test session in the ``test`` database (override with
COMPLAINTS_TEST_POSTGRES_URL), emptied before each test so tests never see each other's rows:
dropped and recreated, or, for a test whose store is bootstrapped by the ``services`` fixture,
reset to a copy of a store bootstrapped once per session (see ``database_url``; SQLite: a new
file, or a copy of one bootstrapped once per session). Without a
reachable server the PostgreSQL cases skip with a one-line reason, except under CI=true, where
they fail: CI must exercise the production store.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from aggregates.vocabulary import Role
from api.app import create_app
from commands.application import ComplaintsApp
from commands.context import CommandContext
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from tests.role_client import RoleClient

POSTGRES_URL = os.environ.get(
    "COMPLAINTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Every PostgreSQL session the tests open (libpq reads PGOPTIONS, and the servers and workers
# the tests start inherit it) commits without waiting for the WAL flush: ~5 ms a commit on this
# disk, thousands of commits a run (each test's tables and rows). Only a crash of the PostgreSQL
# server could tell the difference, and no test crashes it; the statements are the same.
if "synchronous_commit" not in os.environ.get("PGOPTIONS", ""):
    os.environ["PGOPTIONS"] = f"{os.environ.get('PGOPTIONS', '')} -c synchronous_commit=off".strip()


def _postgres_reason() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as e:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {str(e).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    reason = _postgres_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    yield schema
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def reset_schema(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')


# Everything in a schema a test could change the shape of, as text (the schema's own name
# left out, since index and function definitions name it): two schemas alike here differ only
# in their rows and sequence positions.
_SHAPE = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s)
SELECT 'rel ' || c.relname || ' ' || c.relkind::text FROM pg_class c
 WHERE c.relnamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' ' || a.attnotnull::text || ' ' || a.attidentity::text || a.attgenerated::text || ' '
       || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = (SELECT oid FROM ns) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname = %(schema)s
UNION ALL
SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
 WHERE connamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'trg ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = (SELECT oid FROM ns) AND NOT t.tgisinternal
UNION ALL
SELECT 'fn ' || pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)
UNION ALL
SELECT 'rule ' || definition FROM pg_rules WHERE schemaname = %(schema)s
"""


def schema_shape(conn: psycopg.Connection[Any], schema: str) -> frozenset[str]:
    rows = conn.execute(_SHAPE, {"schema": schema}).fetchall()
    return frozenset(str(row[0]).replace(schema, "{schema}") for row in rows)


@dataclass(frozen=True)
class PristineStore:
    """A schema bootstrapped once per session, never used by a test: what a test's schema is
    reset to (its rows and sequence positions) when its shape is still the same."""

    schema: str
    shape: frozenset[str]
    tables: tuple[str, ...]
    filled: tuple[str, ...]
    """The tables bootstrap itself writes rows to (the migration marker)."""
    sequences: tuple[tuple[str, int, bool], ...]
    """Name, value and is_called, as ``setval`` takes them."""

    def reset(self, schema: str) -> bool:
        """Empties ``schema`` to this store's state, in one transaction; False (and nothing
        done) when its shape differs (missing, or changed by a test), so it must be rebuilt."""
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            if schema_shape(conn, schema) != self.shape:
                return False
            statements = ["BEGIN", "SET LOCAL lock_timeout = '20s'"]
            statements += [f'DELETE FROM "{schema}"."{table}"' for table in self.tables]
            statements += [
                f'INSERT INTO "{schema}"."{table}" SELECT * FROM "{self.schema}"."{table}"'
                for table in self.filled
            ]
            statements += [
                f"SELECT setval('\"{schema}\".\"{name}\"', {value}, {called})"
                for name, value, called in self.sequences
            ]
            conn.execute("; ".join([*statements, "COMMIT"]).encode())
        return True


@pytest.fixture(scope="session")
def postgres_pristine(
    postgres_schema: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PristineStore]:
    schema = f"{postgres_schema}_pristine"
    reset_schema(schema)
    where = tmp_path_factory.mktemp("pristine")
    settings = Settings(
        database_url=f"{POSTGRES_URL}?schema={schema}",
        secret_key_file=str(where / "secret.key"),
        admin_token_file=str(where / "admin-token"),
        repeat_complaints_enabled=False,
        automation_disabled_rules=["repeat-customer"],
    )
    with bootstrap(settings):
        pass
    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            tables = [str(row[0]) for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)
            )]
            filled = [t for t in tables if conn.execute(
                f'SELECT EXISTS (SELECT FROM "{schema}"."{t}")').fetchone() == (True,)]
            sequences = [
                (str(name), int(last) if last is not None else int(start), last is not None)
                for name, last, start in conn.execute(
                    "SELECT sequencename, last_value, start_value FROM pg_sequences"
                    " WHERE schemaname = %s", (schema,),
                )
            ]
            shape = schema_shape(conn, schema)
        yield PristineStore(schema, shape, tuple(tables), tuple(filled), tuple(sequences))
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def sqlite_pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store bootstrapped once per session, never used by a test: copied for a test
    whose store the ``services`` fixture bootstraps, as ``postgres_pristine`` is."""
    where = tmp_path_factory.mktemp("sqlite-pristine")
    path = where / "complaints.db"
    with bootstrap(store_settings(f"sqlite:///{path}", where)):
        pass
    return path


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's own backup: a consistent copy, whatever its write-ahead log still holds."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store: a new SQLite file, or the session's PostgreSQL schema emptied.

    A test whose store the ``services`` fixture bootstraps (before the test, or any fixture
    using it, sees the store) gets the schema with the pristine store's tables and rows rather
    than dropped, or a copy of the pristine SQLite file: what that bootstrap would have made,
    without its ~80 CREATE statements (the largest part of a test's set-up), which ``services``
    then skips. Any other test, or a schema whose shape a test changed, gets it dropped and
    recreated empty (or no file), as before."""
    if request.param == "sqlite":
        path = tmp_path / "complaints.db"
        if "services" in request.fixturenames:
            copy_sqlite(request.getfixturevalue("sqlite_pristine"), path)
            request.node.stash[PRISTINE_URL] = f"sqlite:///{path}"
        return f"sqlite:///{path}"
    schema = request.getfixturevalue("postgres_schema")
    pristine: PristineStore | None = (
        request.getfixturevalue("postgres_pristine") if "services" in request.fixturenames
        else None
    )
    url = f"{POSTGRES_URL}?schema={schema}"
    if pristine is not None and pristine.reset(schema):
        request.node.stash[PRISTINE_URL] = url
    else:
        reset_schema(schema)
    return url


PRISTINE_URL = pytest.StashKey[str]()
"""The URL of the store ``database_url`` reset to the pristine store for this test."""


@pytest.fixture(autouse=True)
def files_out_of_the_work_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process the tests start from the environment (CLI commands above all: each one
    bootstraps, so loads or creates the secret key) keeps its files in the test's directory,
    never in ./var of the work tree."""
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("COMPLAINTS_ADMIN_TOKEN_FILE", str(tmp_path / "admin-token"))
    # The repeat-complaint links and rule off for every process the tests start (see
    # ``settings``).
    monkeypatch.setenv("COMPLAINTS_REPEAT_COMPLAINTS_ENABLED", "false")
    monkeypatch.setenv("COMPLAINTS_AUTOMATION_DISABLED_RULES", "repeat-customer")


def store_settings(database_url: str, where: Path) -> Settings:
    """The settings every test's store runs with, its files kept in ``where``."""
    # Files the service creates beside its data (the key sealing stored secrets, the first-start
    # admin token) go to the test's own directory, never into the work tree (PostgreSQL has no
    # data file to put them beside).
    return Settings(
        database_url=database_url,
        pool_size=4,
        pool_max_overflow=20,
        secret_key_file=str(where / "secret.key"),
        admin_token_file=str(where / "admin-token"),
        # Off here: every test files for the same customer and order (tests/intake.py), and the
        # links and the high_attention tag would change the versions and histories other tests
        # assert on; the tests of the rules turn them on (tests/application/
        # test_repeat_complaints.py, tests/api/test_automation.py).
        repeat_complaints_enabled=False,
        automation_disabled_rules=["repeat-customer"],
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return store_settings(database_url, tmp_path)


@contextmanager
def store_of_its_own(request: pytest.FixtureRequest, where: Path) -> Iterator[str]:
    """The URL of an empty store that no other test touches, dropped afterwards: for a module
    whose tests only read one costly history (``request.param`` names the database, as for
    ``database_url``). Its own PostgreSQL schema, since ``database_url`` empties the session's
    schema before every test."""
    if request.param == "sqlite":
        yield f"sqlite:///{where / 'complaints.db'}"
        return
    schema = f"{request.getfixturevalue('postgres_schema')}_{uuid.uuid4().hex[:6]}"
    reset_schema(schema)
    try:
        yield f"{POSTGRES_URL}?schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def services(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Services]:
    # A store just reset to (or copied from) the pristine one holds every table and row
    # bootstrap makes: creating and migrating them again would change nothing, and cost
    # ~0.1 s a test (PostgreSQL; less on SQLite).
    pristine = request.node.stash.get(PRISTINE_URL, None) == settings.database_url
    with bootstrap(
        settings.model_copy(update={"create_tables": False}) if pristine else settings
    ) as built:
        built.settings = settings  # what the test configured, create_tables included
        yield built


@pytest.fixture
def app(services: Services) -> ComplaintsApp:
    return services.app


TEST_TEAMS = ("east", "west", "north", "south", "t", *(f"t{n}" for n in range(10)))
"""The teams tests assign complaints to: the default principal supervises them all."""


@pytest.fixture
def ctx() -> CommandContext:
    """A supervisor of every team the tests use: tests of the application work any complaint
    they file; the scope rules have their own tests (tests/api/test_permissions.py)."""
    return CommandContext(
        principal="alice", role="supervisor", correlation_id="corr-test", teams=TEST_TEAMS
    )


@pytest.fixture
def admin_token(app: ComplaintsApp, ctx: CommandContext) -> str:
    return app.tokens.issue("root", "admin", ctx).secret


@pytest.fixture
def agent_token(app: ComplaintsApp, ctx: CommandContext) -> str:
    return app.tokens.issue("alice", "agent", ctx).secret


@pytest.fixture
def role_tokens(app: ComplaintsApp, ctx: CommandContext, admin_token: str) -> dict[Role, str]:
    """A token per role; the supervisor "alice" acts for every team the tests use."""
    tokens = {
        role: app.tokens.issue(f"test-{role.value}", role.value, ctx).secret
        for role in Role
        if role not in (Role.ADMIN, Role.SUPERVISOR)
    }
    tokens[Role.SUPERVISOR] = app.tokens.issue("alice", "supervisor", ctx, teams=TEST_TEAMS).secret
    tokens[Role.ADMIN] = admin_token
    return tokens


@pytest.fixture
def client(services: Services, role_tokens: dict[Role, str]) -> Iterator[TestClient]:
    with RoleClient(create_app(services)) as c:
        c.tokens = role_tokens
        yield c
