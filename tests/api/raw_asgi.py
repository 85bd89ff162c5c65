"""Requests with exact bytes, for what an HTTP client library would refuse or re-encode.

httpx encodes header values as ASCII or UTF-8, so it cannot send the Latin-1 byte 0xB2 ("²") that
a raw HTTP client can; this calls the ASGI application directly with the bytes given.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi.testclient import TestClient
from starlette.types import Message


def raw_request(
    client: TestClient,
    method: str,
    path: str,
    *,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    query: bytes = b"",
    body: Any = None,
) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of one request made with ``client``'s app and token."""
    content = b"" if body is None else json.dumps(body).encode()
    # The token the client would send this request with (tests.conftest.RoleClient picks one
    # the permission table allows).
    authorization = client.headers.get("authorization") or (
        f"Bearer {client.token_for(method, path)}"  # type: ignore[attr-defined]
    )
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", authorization.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": content, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload) if payload else {}
