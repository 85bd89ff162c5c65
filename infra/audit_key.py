"""The key that signs audit checkpoints (docs/audit.md).

``COMPLAINTS_AUDIT_KEY`` (base64, at least 16 bytes) when set: give it to auditors who verify,
and keep it away from whoever can write the database, since anyone holding it can sign a
rewritten store. Otherwise a key derived from the service key (``infra/secrets.py``) with
HMAC-SHA256 under a fixed label, so that the service key itself never signs anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from infra.secrets import SecretKeyError, load_key
from infra.settings import Settings

DERIVATION_LABEL = b"complaint-ledger audit checkpoint key v1"
MIN_KEY_BYTES = 16


def audit_key(settings: Settings) -> bytes:
    if settings.audit_key is not None:
        try:
            key = base64.b64decode(settings.audit_key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise SecretKeyError("COMPLAINTS_AUDIT_KEY is not base64") from None
        if len(key) < MIN_KEY_BYTES:
            raise SecretKeyError(
                f"COMPLAINTS_AUDIT_KEY must decode to at least {MIN_KEY_BYTES} bytes"
            )
        return key
    service_key = base64.b64decode(load_key(settings))
    return hmac.new(service_key, DERIVATION_LABEL, hashlib.sha256).digest()
