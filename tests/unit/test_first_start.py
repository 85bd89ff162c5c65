"""The first admin token: on a terminal it is shown, anywhere else it goes to an owner-only file."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from api.first_start import admin_token_path, hand_over_admin_token
from infra.settings import Settings

SECRET = "clt_not-a-real-token-but-shaped-like-one"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def default_locations(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about where the files go when nothing says: undo the suite's
    ``files_out_of_the_work_tree`` (each test still writes only under its tmp_path)."""
    monkeypatch.delenv("COMPLAINTS_SECRET_KEY_FILE", raising=False)
    monkeypatch.delenv("COMPLAINTS_ADMIN_TOKEN_FILE", raising=False)


def test_a_terminal_is_shown_the_token_and_no_file_is_written(tmp_path: Path) -> None:
    out = Terminal()
    token_file = tmp_path / "var" / "admin-token"
    assert hand_over_admin_token(SECRET, token_file, out) is None
    assert SECRET in out.getvalue()
    assert not token_file.exists()


def test_elsewhere_the_token_goes_to_an_owner_only_file_and_only_its_path_is_printed(
    tmp_path: Path,
) -> None:
    out = io.StringIO()  # a pipe or a log collector, not a terminal
    token_file = tmp_path / "var" / "admin-token"
    written = hand_over_admin_token(SECRET, token_file, out)
    assert written == token_file.resolve()
    assert SECRET not in out.getvalue()
    assert str(token_file.resolve()) in out.getvalue()
    assert token_file.read_text() == SECRET + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700


def test_a_stale_token_file_is_replaced_with_an_owner_only_one(tmp_path: Path) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text("old\n")
    token_file.chmod(0o644)
    hand_over_admin_token(SECRET, token_file, io.StringIO())
    assert token_file.read_text() == SECRET + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["admin-token"]  # no temporary file left


def test_the_token_file_is_beside_the_data_unless_configured(tmp_path: Path) -> None:
    database = tmp_path / "data" / "complaints.db"
    sqlite = Settings(database_url=f"sqlite:///{database}")
    assert admin_token_path(sqlite) == tmp_path / "data" / "admin-token"
    postgres = Settings(database_url="postgresql://app@db.example:5432/complaints")
    assert admin_token_path(postgres) == Path("var") / "admin-token"
    chosen = tmp_path / "elsewhere" / "token"
    configured = Settings(database_url=f"sqlite:///{database}", admin_token_file=str(chosen))
    assert admin_token_path(configured) == chosen
