"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"`` with the subscription's secret.

Signing the timestamp with the body lets receivers reject replays of an old, captured request
(``TOLERANCE_SECONDS``). The header may carry several ``v1=`` values, comma-separated, so a secret
can be rotated without a window of failed verifications. docs/events.md gives the receivers'
recipe.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "Complaints-Webhook-Timestamp"
SIGNATURE_HEADER = "Complaints-Webhook-Signature"
EVENT_ID_HEADER = "Complaints-Event-Id"
DELIVERY_ID_HEADER = "Complaints-Delivery-Id"
ATTEMPT_HEADER = "Complaints-Delivery-Attempt"
SCHEME = "v1"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver runs: True only for a fresh request signed with ``secret``."""
    # isascii too: str.isdigit() accepts "²", which int() then refuses.
    if (
        not timestamp_header
        or not signature_header
        or not (timestamp_header.isascii() and timestamp_header.isdigit())
    ):
        return False
    timestamp = int(timestamp_header)
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate.strip())
        for candidate in signature_header.split(",")
    )
