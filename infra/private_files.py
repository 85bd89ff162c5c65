"""Files only their owner may read: the SQLite store and the first-start admin token.

Modes are given at creation (``os.open`` with 0600, ``mkdir`` with 0700), never set after the
fact, so there is no moment at which another local user could open the file. The process umask
can only remove permissions from these, never add.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def private_directory(path: Path) -> None:
    """Creates ``path`` (0700) if missing; an existing directory is the operator's and is kept."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=DIRECTORY_MODE, exist_ok=True)


def private_file(path: Path) -> None:
    """Creates ``path`` empty with mode 0600 if missing; takes group and other access away if not.

    Stores created before this existed were world-readable; they are tightened on the next start.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        restrict_to_owner(path)
    else:
        os.close(descriptor)


def restrict_to_owner(path: Path) -> None:
    """Removes group and other permissions from an existing file (no-op when already private)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
            log.warning("%s was readable by other users; it is now mode %o", path, mode & 0o700)
    except FileNotFoundError:
        pass
    except PermissionError:  # owned by someone else: say so, the store itself still works
        log.warning("%s is readable by other users and could not be restricted", path)


def write_private_file(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically, the file readable by its owner alone."""
    private_directory(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # A leftover from a crash could have any mode: never write into it, start afresh.
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
