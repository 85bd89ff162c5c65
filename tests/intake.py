"""A valid intake body, as sent over HTTP (the wire shape of POST /complaints)."""

from __future__ import annotations

import copy
from typing import Any

INTAKE: dict[str, Any] = {
    "customer": {
        "id": "CUST-1001",
        "name": "张伟",
        "company": None,
        "phone": "13800138000",
        "email": "zhang.wei@example.com",
        "tier": "vip",
    },
    "product": {"name": "X9 phone", "model": "X9-128", "order_number": "SO-2026-0042"},
    "category": "product_quality",
    "subject": "Screen cracked on arrival",
    "description": "The parcel arrived with the phone screen cracked.",
    "occurred_at": "2024-11-20T10:00:00+08:00",  # before any test's received_at
    "location": "Shanghai",
    "attachments": [
        {"name": "photo.jpg", "content_type": "image/jpeg", "size": 52311, "sha256": "a" * 64}
    ],
    "expected_remedy": "exchange",
    "channel": "web",
    "severity": "high",
    "region": "east",
}


def intake(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(INTAKE)
    body.update(overrides)
    return body
