"""The hash chain's canonical encoding, the Merkle tree over chain heads, and checkpoint signing.

These bytes are the contract between the two databases (SQLite computes the hash in Python,
PostgreSQL in its insert trigger) and the verifier: change nothing here without a new version
of the chain (docs/audit.md).

Event hash (version 1 of the encoding), SHA-256 over the concatenation of::

    prev_hash          32 bytes (version 1 of an aggregate: 32 zero bytes)
    originator_id      16 bytes (the UUID's bytes, big-endian as uuid_send gives them)
    originator_version  8 bytes, signed big-endian
    len(topic)          4 bytes, unsigned big-endian, then the topic's UTF-8 bytes
    len(state)          4 bytes, unsigned big-endian, then the stored state bytes as stored

The state is hashed as stored, so the hash covers ciphertext and compression alike.

Merkle tree (RFC 6962 shape): leaves sorted by aggregate id (its 16 bytes), leaf hash
``SHA-256(0x00 || id || version(8) || head_hash)``, node ``SHA-256(0x01 || left || right)``; a
level of odd length promotes its last node unchanged to the next level (it is not duplicated,
so no two different leaf lists share a root). The root of no leaves is ``SHA-256("")``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

GENESIS = bytes(32)
"""The predecessor hash of every aggregate's first event."""
HASH_BYTES = 32
SIGNATURE_ALGORITHM = "HMAC-SHA256"
_LEAF = b"\x00"
_NODE = b"\x01"
_CHECKPOINT_MESSAGE = b"complaint-ledger checkpoint v1\x00"


def event_hash(
    prev_hash: bytes, originator_id: UUID, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The hash of one stored event (the canonical encoding above)."""
    topic_bytes = topic.encode()
    return hashlib.sha256(
        b"".join(
            (
                prev_hash,
                originator_id.bytes,
                originator_version.to_bytes(8, "big", signed=True),
                len(topic_bytes).to_bytes(4, "big"),
                topic_bytes,
                len(state).to_bytes(4, "big"),
                state,
            )
        )
    ).digest()


@dataclass(frozen=True)
class ChainHead:
    """An aggregate's last event as of some position: its version and hash."""

    originator_id: UUID
    version: int
    hash: bytes


def merkle_root(heads: Iterable[ChainHead]) -> bytes:
    """The root over ``heads`` (any order: they are sorted here by aggregate id)."""
    level = [
        hashlib.sha256(
            _LEAF + h.originator_id.bytes + h.version.to_bytes(8, "big", signed=True) + h.hash
        ).digest()
        for h in sorted(heads, key=lambda h: h.originator_id.bytes)
    ]
    if not level:
        return hashlib.sha256(b"").digest()
    while len(level) > 1:
        paired = [
            hashlib.sha256(_NODE + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])  # promoted, not duplicated
        level = paired
    return level[0]


def checkpoint_message(position: int, aggregate_count: int, event_count: int, root: bytes) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return b"".join(
        (
            _CHECKPOINT_MESSAGE,
            position.to_bytes(8, "big", signed=True),
            aggregate_count.to_bytes(8, "big"),
            event_count.to_bytes(8, "big"),
            root,
        )
    )


def sign_checkpoint(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def signature_holds(key: bytes, message: bytes, signature: bytes) -> bool:
    return hmac.compare_digest(sign_checkpoint(key, message), signature)


def audit_key_id(key: bytes) -> str:
    """A short, non-secret name of a signing key (which key signed a checkpoint)."""
    return hashlib.blake2b(key, digest_size=4, person=b"cl-audit").hexdigest()
