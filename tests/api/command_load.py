"""Concurrent HTTP clients filing complaints and commenting on them, each command with an
Idempotency-Key and a unique text (a filing's subject, a comment's body), and the ledger of how
each was answered: acknowledged (2xx, with the id and version), refused (another status), or
never answered (the connection broke: the server died with the request in flight)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.intake import intake


@dataclass(frozen=True)
class Sent:
    path: str
    key: str
    body: dict[str, Any]
    text: str
    """Unique to this command: the filing's subject or the comment's body."""

    @property
    def is_filing(self) -> bool:
        return self.path == "/complaints"


@dataclass(frozen=True)
class Ack:
    sent: Sent
    complaint_id: str
    version: int


@dataclass
class Ledger:
    acked: list[Ack] = field(default_factory=list)
    refused: list[tuple[Sent, int]] = field(default_factory=list)
    unanswered: list[Sent] = field(default_factory=list)


def filing(name: str) -> Sent:
    subject = f"filing {name}"
    return Sent("/complaints", f"file-{name}", intake(subject=subject), subject)


def comment(complaint_id: str, name: str) -> Sent:
    text = f"comment {name}"
    body = {"body": text, "visibility": "internal"}
    return Sent(f"/complaints/{complaint_id}/comments", f"comment-{name}", body, text)


def acknowledged(sent: Sent, response: httpx.Response) -> Ack:
    return Ack(sent, response.json()["id"], int(response.headers["ETag"].strip('"')))


async def one_client(http: httpx.AsyncClient, n: int, ledger: Ledger) -> None:
    """Files a complaint, then comments on its latest one, filing anew every fourth command,
    until the server stops answering. Its comments never race each other (one at a time)."""
    mine: str | None = None
    for i in range(10_000):
        sent = filing(f"{n}.{i}") if mine is None or i % 4 == 0 else comment(mine, f"{n}.{i}")
        try:
            response = await http.post(
                sent.path, json=sent.body, headers={"Idempotency-Key": sent.key}
            )
        except httpx.TransportError:
            ledger.unanswered.append(sent)
            return
        if not response.is_success:
            ledger.refused.append((sent, response.status_code))
            continue
        ack = acknowledged(sent, response)
        ledger.acked.append(ack)
        mine = ack.complaint_id if sent.is_filing else mine


async def load_then(
    url: str, token: str, clients: int, acks: int, seconds: float, kill: Callable[[], None]
) -> Ledger:
    """Runs ``clients`` clients until ``acks`` commands are acknowledged (or ``seconds`` passed),
    calls ``kill`` with every client mid-request, and waits for the clients to notice."""
    ledger = Ledger()
    limits = httpx.Limits(max_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=10) as http:
        running = [asyncio.create_task(one_client(http, n, ledger)) for n in range(clients)]
        deadline = time.monotonic() + seconds
        while len(ledger.acked) < acks and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        kill()
        await asyncio.wait_for(asyncio.gather(*running), timeout=10)
    return ledger
