"""The service key: where it comes from, how its file is created, and sealing with it."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from eventsourcing.cryptography import AESCipher
from pydantic import SecretStr

from infra.secrets import (
    SealedValueError,
    SecretBox,
    SecretKeyError,
    key_file_path,
    load_key,
)
from infra.settings import Settings


@pytest.fixture(autouse=True)
def default_locations(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about where the files go when nothing says: undo the suite's
    ``files_out_of_the_work_tree`` (each test still writes only under its tmp_path)."""
    monkeypatch.delenv("COMPLAINTS_SECRET_KEY_FILE", raising=False)
    monkeypatch.delenv("COMPLAINTS_ADMIN_TOKEN_FILE", raising=False)


def sqlite_settings(tmp_path: Path, **extra: object) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'data' / 'c.db'}")
    return settings.model_copy(update=extra)


def test_the_key_file_is_created_beside_the_database_readable_by_the_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = sqlite_settings(tmp_path)
    path = tmp_path / "data" / "secret.key"
    assert key_file_path(settings) == path
    key = load_key(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(key)) == 32
    assert str(path) in caplog.text and key not in caplog.text
    assert load_key(settings) == key  # read back, not made anew


def test_postgres_keeps_its_key_file_under_var_unless_told(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://u@db:5432/x")
    assert key_file_path(settings) == Path("var/secret.key")
    told = settings.model_copy(update={"secret_key_file": str(tmp_path / "k")})
    assert key_file_path(told) == tmp_path / "k"


def test_the_configured_key_wins_and_no_file_is_made(tmp_path: Path) -> None:
    key = AESCipher.create_key(32)
    settings = sqlite_settings(tmp_path, secret_key=SecretStr(key))
    assert load_key(settings) == key
    assert not (tmp_path / "data" / "secret.key").exists()


@pytest.mark.parametrize(
    "bad", ["not base64 at all!", base64.b64encode(b"short").decode()]
)
def test_a_malformed_key_is_refused_clearly(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SecretKeyError, match="COMPLAINTS_SECRET_KEY"):
        load_key(sqlite_settings(tmp_path, secret_key=SecretStr(bad)))


def test_a_group_readable_key_file_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "k"
    path.write_text(AESCipher.create_key(16))
    path.chmod(0o644)
    load_key(sqlite_settings(tmp_path, secret_key_file=str(path)))
    assert "readable by others" in caplog.text


def test_sealing_round_trips_and_refuses_another_key_or_damage() -> None:
    box = SecretBox(AESCipher.create_key(32))
    sealed = box.seal("s3cret-s3cret-s3cret")
    assert sealed.startswith(f"enc:v1:{box.key_id}:") and "s3cret" not in sealed
    assert box.seal("same") != box.seal("same")  # a fresh nonce each time
    assert box.open(sealed) == "s3cret-s3cret-s3cret"
    other = SecretBox(AESCipher.create_key(32))
    with pytest.raises(SealedValueError, match="another key|sealed with key"):
        other.open(sealed)
    damaged = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SealedValueError, match="damaged"):
        box.open(damaged)


def test_a_previous_key_still_opens_what_it_sealed_while_new_values_use_the_current_key() -> None:
    old, new = AESCipher.create_key(32), AESCipher.create_key(32)
    sealed_before = SecretBox(old).seal("s3cret")
    rotating = SecretBox(new, previous=[old])
    assert rotating.open(sealed_before) == "s3cret"
    assert rotating.sealing_key(rotating.seal("x")) == rotating.key_id != SecretBox(old).key_id
    with pytest.raises(SealedValueError):
        SecretBox(new).open(sealed_before)
