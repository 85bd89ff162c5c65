"""Shared fixtures: every storage-touching test runs on SQLite and on PostgreSQL.

PostgreSQL: one fresh schema per test session in the ``test`` database (override with
COMPLAINTS_TEST_POSTGRES_URL), dropped and recreated before each test so tests never see each
other's rows. Without a reachable server the PostgreSQL cases skip with a one-line reason, except
under CI=true, where they fail: CI must exercise the production store.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store: a new SQLite file, or the session's PostgreSQL schema emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'complaints.db'}"
    schema = request.getfixturevalue("postgres_schema")
    reset_schema(schema)
    return f"{POSTGRES_URL}?schema={schema}"


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


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Files the service creates beside its data (the key sealing stored secrets, the first-start
    # admin token) go to the test's own directory, never into the work tree (PostgreSQL has no
    # data file to put them beside).
    return Settings(
        database_url=database_url,
        pool_size=4,
        pool_max_overflow=20,
        secret_key_file=str(tmp_path / "secret.key"),
        admin_token_file=str(tmp_path / "admin-token"),
        # Off here: every test files for the same customer and order (tests/intake.py), and the
        # links and the high_attention tag would change the versions and histories other tests
        # assert on; the tests of the rules turn them on (tests/application/
        # test_repeat_complaints.py, tests/api/test_automation.py).
        repeat_complaints_enabled=False,
        automation_disabled_rules=["repeat-customer"],
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    with bootstrap(settings) as built:
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
