"""Translate ``COMPLAINTS_DATABASE_URL`` into the eventsourcing library's own environment.

The library configures recorders from environment-style keys (``PERSISTENCE_MODULE``,
``SQLITE_DBNAME``, ``POSTGRES_*``); this module is the single place that knows that mapping, and
the only place that tells the databases apart: ``PERSISTENCE_MODULE`` names our module for the
database (``infra/databases/sqlite.py`` or ``postgres.py``), whose factory makes the application's
recorder the ``Database`` (``projections/database.py``) everything else asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from infra.private_files import private_directory, private_file, restrict_to_owner
from infra.settings import Settings

SQLITE_MODULE = "infra.databases.sqlite"
POSTGRES_MODULE = "infra.databases.postgres"


class DatabaseUrlError(ValueError):
    """Raised when COMPLAINTS_DATABASE_URL names no supported database."""


@dataclass(frozen=True)
class LibraryEnvironment:
    """The library's environment for an application on the database of a URL."""

    env: dict[str, str]


def database_from_url(url: str, settings: Settings | None = None) -> LibraryEnvironment:
    settings = settings or Settings(database_url=url)
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute.db, as in SQLAlchemy.
        path = unquote(url.split("://", 1)[1][1:]) if "://" in url else ""
        if not path:
            raise DatabaseUrlError("sqlite URL needs a file path, e.g. sqlite:///var/complaints.db")
        if path != ":memory:" and not path.startswith("file:"):
            secure_sqlite_files(Path(path))
        return LibraryEnvironment(
            {
                "PERSISTENCE_MODULE": SQLITE_MODULE,
                "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": str(settings.lock_timeout_seconds),
                "CREATE_TABLE": "y" if settings.create_tables else "n",
            },
        )
    if scheme in {"postgres", "postgresql"}:
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": POSTGRES_MODULE,
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": str(settings.pool_size),
            "POSTGRES_MAX_OVERFLOW": str(settings.pool_max_overflow),
            "POSTGRES_LOCK_TIMEOUT": str(settings.lock_timeout_seconds),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_PRE_PING": "y",
            "CREATE_TABLE": "y" if settings.create_tables else "n",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return LibraryEnvironment(env)
    raise DatabaseUrlError(
        f"unsupported database URL scheme {parts.scheme!r}: use sqlite:///path or postgresql://..."
    )


def secure_sqlite_files(path: Path) -> None:
    """Makes the SQLite store readable by its owner alone, before the library opens it.

    The database is created empty with mode 0600 (an empty file is a valid empty database), and
    SQLite gives its -wal and -shm files the database file's mode. Files of an older store are
    tightened to match. The directory is created 0700 when we create it.
    """
    private_directory(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm"):
        restrict_to_owner(path.with_name(path.name + suffix))
