"""Handing over the admin token created on the first start, without leaking it into logs.

Standard output of a service usually ends up in a log collector, where a secret outlives its
purpose and is read by everyone with access to the logs. So the token is shown only to a person at
a terminal; otherwise it goes to a file its owner alone can read, and only that file's path is
printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from infra.persistence import database_from_url
from infra.private_files import write_private_file
from infra.settings import Settings

TOKEN_FILE_NAME = "admin-token"


def admin_token_path(settings: Settings) -> Path:
    """The setting, else beside the data: the SQLite database's directory, or ``var/``."""
    if settings.admin_token_file:
        return Path(settings.admin_token_file)
    db_name = database_from_url(settings.database_url, settings).env.get("SQLITE_DBNAME", "")
    if db_name and db_name != ":memory:" and not db_name.startswith("file:"):
        return Path(db_name).parent / TOKEN_FILE_NAME
    return Path("var") / TOKEN_FILE_NAME


def hand_over_admin_token(secret: str, token_file: Path, out: TextIO) -> Path | None:
    """Shows ``secret`` on ``out`` if it is a terminal, else writes it to ``token_file``.

    Returns the file written, or None when the token was shown.
    """
    more = (
        "Create more with `complaints tokens create --name NAME --role ROLE [--team TEAM]` "
        "(ROLE: agent, supervisor, compliance, analyst, service, admin) or POST /tokens."
    )
    if out.isatty():
        out.write(
            "First start: created an admin token (shown once, store it now):\n"
            f"  {secret}\n{more}\n"
        )
        out.flush()
        return None
    write_private_file(token_file, secret + "\n")
    where = token_file.resolve()
    out.write(
        f"First start: created an admin token and wrote it to {where} (readable by its owner"
        " only; standard output is not a terminal, so it is not printed). Store it elsewhere and"
        f" delete the file.\n{more}\n"
    )
    out.flush()
    return where
