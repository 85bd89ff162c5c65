"""Unit tests: Hypothesis keeps its files (example database, constants cache) in a temporary
directory for the session, not in ``.hypothesis/`` of the work tree."""

from __future__ import annotations

import shutil
import tempfile

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

_home: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _home
    _home = tempfile.mkdtemp(prefix="hypothesis-")
    set_hypothesis_home_dir(_home)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _home is not None:
        shutil.rmtree(_home, ignore_errors=True)
