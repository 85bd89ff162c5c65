"""The dependency rule (docs/architecture.md) holds: import-linter's contracts in pyproject.toml.

A forbidden import anywhere in the packages fails this test, and with it CI. The linter runs in a
process of its own: it configures logging, which would silence other tests' log capture.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"


def lint_imports(cwd: Path, *python_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(os.fspath, python_path))}
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]
    return subprocess.run(
        [*command, "--config", os.fspath(CONFIG), "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def test_import_contracts_are_kept() -> None:
    linted = lint_imports(ROOT, ROOT)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_contracts_refuse_a_domain_module_importing_the_api(tmp_path: Path) -> None:
    """The same contracts over a stand-in tree whose only import is ``aggregates -> api``."""
    packages = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["root_packages"]
    for package in packages:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    leak = tmp_path / "aggregates" / "leak.py"
    leak.write_text("import api\n")
    refused = lint_imports(tmp_path, tmp_path)
    assert refused.returncode != 0 and "aggregates.leak -> api" in refused.stdout
    leak.write_text("")
    assert lint_imports(tmp_path, tmp_path).returncode == 0
