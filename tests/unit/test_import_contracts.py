"""The dependency rule (docs/architecture.md) holds: import-linter's contracts in pyproject.toml.

A forbidden import anywhere in the packages fails this test, and with it CI.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest
from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"


def test_import_contracts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=os.fspath(CONFIG), no_cache=True)
    assert status == EXIT_STATUS_SUCCESS, "an import breaks a contract: see the report above"


def test_the_contracts_refuse_a_domain_module_importing_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same contracts over a stand-in tree whose only import is ``aggregates -> api``."""
    packages = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["root_packages"]
    for package in packages:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "aggregates" / "leak.py").write_text("import api\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    for name in [m for m in sys.modules if m.split(".")[0] in packages]:
        monkeypatch.delitem(sys.modules, name)
    assert lint_imports(config_filename=os.fspath(CONFIG), no_cache=True) != EXIT_STATUS_SUCCESS
    (tmp_path / "aggregates" / "leak.py").write_text("")
    assert lint_imports(config_filename=os.fspath(CONFIG), no_cache=True) == EXIT_STATUS_SUCCESS
