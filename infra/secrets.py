"""The service's secret key, and sealing values with it for storage (webhook signing secrets).

One home for the key configuration, so later users (crypto-shredding of personal data) take the
same key the same way:

- ``COMPLAINTS_SECRET_KEY``: a base64 AES key (16, 24 or 32 bytes); wins when set.
- else the key file ``COMPLAINTS_SECRET_KEY_FILE`` (default: ``secret.key`` beside the SQLite
  database, or ``var/secret.key`` for PostgreSQL), created on first use with mode 0600. Every
  process that serves one database must use the same key: with PostgreSQL on several machines, set
  ``COMPLAINTS_SECRET_KEY`` (or share the file).

Sealing uses the ``eventsourcing`` library's own ``AESCipher`` (AES-GCM, from the ``cryptography``
package): a fresh nonce per value, and the tag makes tampering or a wrong key an error rather than
garbage. A sealed value reads ``enc:v1:<key id>:<base64>``; the key id (a hash prefix of the key,
never the key) tells a wrong key from a damaged value in the error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from infra.persistence import database_from_url
from infra.settings import Settings

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.key"
KEY_BYTES = 32
SEALED_PREFIX = "enc:v1:"


class SecretKeyError(RuntimeError):
    """Raised when the configured secret key is missing, malformed or cannot be created."""


class SealedValueError(ValueError):
    """Raised when a sealed value was sealed with another key, or is damaged."""


def key_file_path(settings: Settings) -> Path:
    """Where the key file is (or will be created): the setting, else beside the data."""
    if settings.secret_key_file:
        return Path(settings.secret_key_file)
    database = database_from_url(settings.database_url, settings)
    db_name = database.env.get("SQLITE_DBNAME", "")
    if db_name and db_name != ":memory:" and not db_name.startswith("file:"):
        return Path(db_name).parent / KEY_FILE_NAME
    return Path("var") / KEY_FILE_NAME


def load_key(settings: Settings) -> str:
    """The base64 key: from ``COMPLAINTS_SECRET_KEY``, else the key file (created if missing)."""
    if settings.secret_key is not None:
        return _checked(settings.secret_key.get_secret_value(), "COMPLAINTS_SECRET_KEY")
    path = key_file_path(settings)
    if not path.exists():
        _create_key_file(path)
    elif path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "secret key file %s is readable by others (mode %o): chmod 600 it",
            path, stat.S_IMODE(path.stat().st_mode),
        )
    return _checked(path.read_text().strip(), f"key file {path}")


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESCipher.create_key(KEY_BYTES)
    try:
        # O_EXCL: of two processes starting at once, one creates the file, the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as e:
        raise SecretKeyError(f"cannot create the secret key file {path}: {e.strerror}") from None
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    log.warning(
        "created a new secret key in %s (mode 0600); back it up with the database, and give "
        "every process serving this database the same key (COMPLAINTS_SECRET_KEY or this file)",
        path.resolve(),
    )


def _checked(key: str, origin: str) -> str:
    try:
        raw = base64.b64decode(key.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError(f"{origin} is not base64") from None
    if len(raw) not in AESCipher.KEY_SIZES:
        raise SecretKeyError(
            f"{origin} must decode to 16, 24 or 32 bytes, not {len(raw)}"
        )
    return key


def key_id(key: str) -> str:
    """A short, non-secret name for a key: 8 hex digits of a keyed-purpose hash of it."""
    digest = hashlib.blake2b(
        base64.b64decode(key), digest_size=4, person=b"cl-keyid"
    ).hexdigest()
    return digest


class SecretBox:
    """Seals and opens short strings with the service key (the webhook store's ``Sealer``);
    opens what a previous key sealed too, while a rotation runs."""

    def __init__(self, key: str, previous: Sequence[str] = ()) -> None:
        self._ciphers = {
            key_id(k): AESCipher(Environment(env={AESCipher.CIPHER_KEY: k}))
            for k in (*previous, key)
        }
        self.key_id = key_id(key)
        self.key_ids = frozenset(self._ciphers)
        self._cipher = self._ciphers[self.key_id]

    def seal(self, plaintext: str) -> str:
        sealed = base64.b64encode(self._cipher.encrypt(plaintext.encode())).decode()
        return f"{SEALED_PREFIX}{self.key_id}:{sealed}"

    def open(self, sealed: str) -> str:
        if not is_sealed(sealed):
            raise SealedValueError("not a sealed value")
        sealed_by, _, payload = sealed[len(SEALED_PREFIX):].partition(":")
        cipher = self._ciphers.get(sealed_by)
        if cipher is None:
            raise SealedValueError(
                f"sealed with key {sealed_by}, but the configured key is {self.key_id}"
            )
        try:
            return cipher.decrypt(base64.b64decode(payload, validate=True)).decode()
        except (binascii.Error, ValueError):
            raise SealedValueError("damaged sealed value") from None

    def sealing_key(self, value: str) -> str | None:
        """The id of the key that sealed ``value``, or None when it is not sealed."""
        if not is_sealed(value):
            return None
        return value[len(SEALED_PREFIX):].partition(":")[0]


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


def previous_keys(settings: Settings) -> list[str]:
    """The keys of ``COMPLAINTS_PREVIOUS_SECRET_KEYS``, checked."""
    if settings.previous_secret_keys is None:
        return []
    text = settings.previous_secret_keys.get_secret_value()
    return [
        _checked(k.strip(), "COMPLAINTS_PREVIOUS_SECRET_KEYS") for k in text.split(",") if k.strip()
    ]


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox(load_key(settings), previous_keys(settings))
