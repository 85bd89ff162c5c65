"""Short, human-readable complaint references (``C-7KQ4-MZ9P``) and their uniqueness index.

A reference is drawn at random from Crockford's base-32 alphabet (no I, L, O, U: nothing a
customer reading it over the phone can confuse). Uniqueness is enforced the way the eventsourcing
library recommends: an index aggregate whose id is derived from the reference (uuid5) is saved
atomically with the complaint, so a collision fails the whole save with an integrity error and the
filing is retried with a fresh reference.
"""

from __future__ import annotations

import re
import secrets
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PATTERN = re.compile(r"^C-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def new_reference() -> str:
    return new_references(1)[0]


def new_references(count: int) -> list[str]:
    """``count`` references drawn with one read of the system's randomness (an import draws
    hundreds a batch; a read costs a system call)."""
    # 32 letters: each random byte's low five bits pick one, uniformly.
    chars = "".join(ALPHABET[byte & 31] for byte in secrets.token_bytes(8 * count))
    return [f"C-{chars[i:i + 4]}-{chars[i + 4:i + 8]}" for i in range(0, 8 * count, 8)]


def normalise_reference(text: str) -> str:
    """Accepts what a customer might type (lower case, O for 0, I/L for 1), canonicalised."""
    cleaned = text.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1")
    if cleaned.startswith("C") and not cleaned.startswith("C-"):
        cleaned = "C-" + cleaned[1:]
    body = cleaned[2:].replace("-", "")
    return f"C-{body[:4]}-{body[4:]}" if len(body) == 8 else cleaned


class ComplaintReference(Aggregate):
    """Index from a reference to the complaint it names."""

    class Registered(Aggregate.Created):
        reference: str
        complaint_id: UUID

    def __init__(self, reference: str, complaint_id: UUID) -> None:
        self.reference = reference
        self.complaint_id = complaint_id

    @staticmethod
    def create_id(reference: str) -> UUID:
        return index_id(reference)

    @classmethod
    def register(cls, reference: str, complaint_id: UUID) -> ComplaintReference:
        return cls._create(cls.Registered, reference=reference, complaint_id=complaint_id)


def index_id(reference: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/complaint-references/{reference}")
