"""The customer's access code to their complaint's tracking page: drawn at filing, shown once,
stored only as a salted SHA-256 digest.

The digest is an aggregate of its own (``AccessCode``, id derived from the complaint's), saved
in the filing's transaction like the reference index: the complaint's own stream and versions
stay as they were, and nothing in a complaint's history or the public event stream carries it.

80 random bits in Crockford's base-32 (``7KQ4-MZ9P-3XTB-W1HC``): read over the phone without
confusing I/1 or O/0, and far beyond guessing through a rate-limited endpoint, so a plain salted
hash (not a slow KDF) is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from aggregates.reference import ALPHABET

CODE_CHARACTERS = 16
"""16 x 5 bits = 80 bits."""
SCHEME = "sha256"


def new_access_code() -> str:
    # One read of the system's randomness, not one per character (as ``new_references``): 32
    # letters, so each random byte's low five bits pick one, uniformly.
    chars = "".join(ALPHABET[byte & 31] for byte in secrets.token_bytes(CODE_CHARACTERS))
    return "-".join(chars[i : i + 4] for i in range(0, CODE_CHARACTERS, 4))


def normalise_code(text: str) -> str:
    """What a customer may type: any case, with or without dashes or spaces, O for 0, I/L for 1."""
    cleaned = "".join(ch for ch in text.upper() if ch not in "- ")
    return cleaned.replace("O", "0").replace("I", "1").replace("L", "1")


def digest_of(code: str, salt: str | None = None) -> str:
    """``sha256$<salt hex>$<digest hex>`` of the normalised code."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256(f"{salt}:{normalise_code(code)}".encode()).hexdigest()
    return f"{SCHEME}${salt}${digest}"


def code_matches(code: str, stored: str | None) -> bool:
    """Constant-time comparison of ``code`` with a stored digest (``None`` never matches)."""
    if stored is None or not code or len(code) > 64:
        return False
    scheme, _, rest = stored.partition("$")
    salt, _, _ = rest.partition("$")
    if scheme != SCHEME or not salt:
        return False
    return hmac.compare_digest(digest_of(code, salt).encode(), stored.encode())


class AccessCode(Aggregate):
    """The digest of one complaint's access code."""

    class Issued(Aggregate.Created):
        complaint_id: UUID
        digest: str

    def __init__(self, complaint_id: UUID, digest: str) -> None:
        self.complaint_id = complaint_id
        self.digest = digest

    @classmethod
    def issue(cls, complaint_id: UUID, code: str) -> AccessCode:
        return cls._create(
            cls.Issued,
            id=access_code_id(complaint_id),
            complaint_id=complaint_id,
            digest=digest_of(code),
        )

    def matches(self, code: str) -> bool:
        return code_matches(code, self.digest)


def access_code_id(complaint_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"/complaint-access-codes/{complaint_id}")
