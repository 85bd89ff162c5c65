"""The check the no-500 tests make of every answer: never a server error, and every refusal an
RFC 9457 problem document."""

from __future__ import annotations

from typing import Any

from httpx import Response


def assert_no_server_error(response: Response, context: Any) -> None:
    """``context`` (what was sent) is shown when the check fails."""
    assert response.status_code < 500, (context, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", context
