"""Only the two database modules know which database they talk to.

Everything else asks ``projections.database.Database`` (see docs/architecture.md): a module that
names the library's per-database classes, or branches on a database flag, brings back the
``isinstance(recorder, ...)`` branches this boundary replaced.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("aggregates", "commands", "projections", "queries", "stream", "api", "infra")
DATABASE_MODULES = {"infra/databases/sqlite.py", "infra/databases/postgres.py"}
DATABASE_SPECIFIC = re.compile(
    r"\b(SQLite|Postgres)(Application|Aggregate|Tracking|Process)Recorder\b"
    r"|\b(SQLite|Postgres)Datastore\b"
    r"|\beventsourcing\.(sqlite|postgres)\b|\bfrom eventsourcing import (sqlite|postgres)\b"
    r"|\bis_postgres\b|\bis_sqlite\b"
)
DRIVER_IMPORT = re.compile(r"^\s*(?:import|from)\s+(sqlite3|psycopg\w*)\b", re.MULTILINE)
DRIVER_IMPORTS_ALLOWED = {
    # Maps either driver's "cannot reach the database" errors to 503: an exception handler needs
    # the classes, not a database.
    "api/problems.py",
}


def modules() -> dict[str, str]:
    return {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_the_scan_sees_the_database_modules() -> None:
    found = modules()
    assert DATABASE_MODULES <= found.keys()
    for name in DATABASE_MODULES:  # the pattern matches what the database modules do contain
        assert DATABASE_SPECIFIC.search(found[name]) and DRIVER_IMPORT.search(found[name])


def test_no_other_module_names_a_database_specific_class_or_flag() -> None:
    offenders = {
        name: sorted({m.group(0) for m in DATABASE_SPECIFIC.finditer(text)})
        for name, text in modules().items()
        if name not in DATABASE_MODULES and DATABASE_SPECIFIC.search(text)
    }
    assert offenders == {}


def test_no_other_module_imports_a_database_driver() -> None:
    offenders = {
        name: sorted(set(DRIVER_IMPORT.findall(text)))
        for name, text in modules().items()
        if name not in DATABASE_MODULES | DRIVER_IMPORTS_ALLOWED and DRIVER_IMPORT.search(text)
    }
    assert offenders == {}
