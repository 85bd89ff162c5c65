"""The customer's access code to their complaint's tracking page: drawn at filing, shown once,
stored only as a salted SHA-256 digest (``Complaint.AccessCodeIssued``).

80 random bits in Crockford's base-32 (``7KQ4-MZ9P-3XTB-W1HC``): read over the phone without
confusing I/1 or O/0, and far beyond guessing through a rate-limited endpoint. A plain salted
hash (not a slow KDF) is enough for that much entropy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aggregates.reference import ALPHABET

CODE_CHARACTERS = 16
"""16 x 5 bits = 80 bits."""
SCHEME = "sha256"


def new_access_code() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARACTERS))
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
    if stored is None or len(code) > 64:
        return False
    scheme, _, rest = stored.partition("$")
    salt, _, _ = rest.partition("$")
    if scheme != SCHEME or not salt:
        return False
    return hmac.compare_digest(digest_of(code, salt), stored)
