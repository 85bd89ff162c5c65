"""A minimal Server-Sent Events reader over httpx, as a consuming service would write one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx


@dataclass
class Message:
    id: str | None
    data: str | None
    comment: bool = False
    text: str = ""
    """A comment's text (e.g. "heartbeat", or why the server is closing the stream)."""


def messages(response: httpx.Response) -> Iterator[Message]:
    """Yields each dispatched event, and each comment line (heartbeats) as a comment message."""
    event_id: str | None = None
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith(":"):
            yield Message(None, None, comment=True, text=line[1:].strip())
        elif line == "":
            if data:
                yield Message(event_id, "\n".join(data))
            event_id, data = None, []
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "id":
                event_id = value
            elif field == "data":
                data.append(value)
