"""Reading and tidying the local NATS JetStream server, as the relay tests need it."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

import nats
from nats.js.errors import NotFoundError


async def stored_messages(url: str, stream: str) -> list[tuple[str, Any]]:
    """Every message the stream holds, in sequence order: its ``Nats-Msg-Id`` and JSON body."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(stream, seq=seq)
            assert message.headers is not None and message.data is not None
            found.append((message.headers["Nats-Msg-Id"], json.loads(message.data)))
        return found
    finally:
        await nc.close()


async def delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    try:
        with suppress(NotFoundError):  # the relay never got to create it
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()
