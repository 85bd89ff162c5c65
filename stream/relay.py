"""Relays the public event feed into a NATS JetStream stream, for fan-out beyond one machine.

Subjects are ``<prefix>.<type>`` (``complaints.events.complaint.filed``); each message carries the
CloudEvent as its body, the event id as ``Nats-Msg-Id`` and the position as a header. Publishing is
sequential, so the stream holds events in position order.

Exactly once in the stream, across crashes: the relay records its position in the event store's
database every ``flush_every`` publishes, and on start resumes from the later of that position and
the position on the stream's last message (what was really published). Should both be behind anyway,
JetStream drops the re-published events as duplicates of their ``Nats-Msg-Id`` within the stream's
duplicate window.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import nats
from eventsourcing.application import Application
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from stream.envelope import MEDIA_TYPE
from stream.event_watcher import EventWatcher
from stream.feed import read_page
from stream.store_tables import StoreTables

log = logging.getLogger(__name__)

POSITION_HEADER = "Complaints-Position"
DUPLICATE_WINDOW_SECONDS = 600.0
PAGE_SIZE = 200


class RelayPositions:
    """Per-relay position, in the event store's database (table ``relay_positions``)."""

    def __init__(self, app: Application[UUID]) -> None:
        self._tables = StoreTables(app, "relay_positions")

    def create_table(self) -> None:
        """Done once by the composition root (``infra/bootstrap.py``) when a process starts."""
        with self._tables.cursor(commit=True) as cursor:
            cursor.execute(
                self._tables.sql(
                    "CREATE TABLE IF NOT EXISTS {relay_positions}"
                    " (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
                )
            )

    def get(self, name: str) -> int:
        with self._tables.cursor(commit=False) as cursor:
            cursor.execute(
                self._tables.sql("SELECT position FROM {relay_positions} WHERE name = %s"), (name,)
            )
            row = cursor.fetchone()
        return int(row["position"]) if row else 0

    def all(self) -> dict[str, int]:
        """Every relay's position, by name."""
        with self._tables.cursor(commit=False) as cursor:
            cursor.execute(self._tables.sql("SELECT name, position FROM {relay_positions}"))
            return {row["name"]: int(row["position"]) for row in cursor.fetchall()}

    def set(self, name: str, position: int) -> None:
        with self._tables.cursor(commit=True) as cursor:
            cursor.execute(
                self._tables.sql(
                    "INSERT INTO {relay_positions} (name, position) VALUES (%s, %s)"
                    " ON CONFLICT (name) DO UPDATE SET position = excluded.position"
                ),
                (name, position),
            )


@dataclass(frozen=True)
class RelayOptions:
    """Where and how the relay publishes (``COMPLAINTS_NATS_*``), and what it reads."""

    url: str
    """The NATS server."""
    stream: str
    """The JetStream stream, created when missing."""
    subject_prefix: str
    """Subjects are ``<prefix>.<event type>``."""
    source: str
    """The CloudEvents ``source`` of every published event."""
    poll_seconds: float
    """How often to look for new events where the database announces none."""
    personal_data: bool = False
    """Publish events with their personal fields in clear (``COMPLAINTS_NATS_PERSONAL_DATA``);
    masked by default: whoever can subscribe to the stream reads them."""


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0
    resumed_from: int = 0


class NatsRelay:
    """Publishes the public feed to a JetStream stream in position order, resuming where it
    stopped (see the module docstring)."""

    def __init__(
        self,
        app: Application[UUID],
        options: RelayOptions,
        *,
        url: str | None = None,
        name: str = "nats",
        flush_every: int = 50,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self._app = app
        self._options = options
        self._url = url or options.url
        self._name = name
        self._stream = options.stream
        self._prefix = options.subject_prefix
        self._flush_every = flush_every
        self._on_published = on_published
        self._positions = RelayPositions(app)
        self.stats = RelayStats()

    def subject(self, event_type: str) -> str:
        return f"{self._prefix}.{event_type}"

    async def run(
        self, *, until_caught_up: bool = False, stop: asyncio.Event | None = None
    ) -> None:
        nc = await nats.connect(self._url, connect_timeout=5, max_reconnect_attempts=-1)
        watcher = EventWatcher(self._app, self._options.poll_seconds).start()
        try:
            js = nc.jetstream()
            await self._ensure_stream(js)
            position = max(
                await asyncio.to_thread(self._positions.get, self._name),
                await self._last_published(js),
            )
            self.stats.resumed_from = position
            unflushed = 0
            while stop is None or not stop.is_set():
                generation = watcher.generation
                page = await asyncio.to_thread(
                    read_page, self._app, after=position, limit=PAGE_SIZE,
                    source=self._options.source, personal_data=self._options.personal_data,
                )
                for event in page.events:
                    await self._publish(js, event)
                    position = event["position"]
                    unflushed += 1
                    if unflushed >= self._flush_every:
                        await asyncio.to_thread(self._positions.set, self._name, position)
                        unflushed = 0
                if page.more:
                    continue
                if page.next_cursor != position or unflushed:
                    position = page.next_cursor
                    await asyncio.to_thread(self._positions.set, self._name, position)
                    unflushed = 0
                if until_caught_up:
                    return
                await self._wait(watcher, generation, stop)
        finally:
            await asyncio.to_thread(watcher.stop)
            await nc.close()

    @staticmethod
    async def _wait(watcher: EventWatcher, generation: int, stop: asyncio.Event | None) -> None:
        """Until new events may be there, 5 s have passed, or ``stop`` is set: SIGTERM ends the
        relay at once, not after the rest of its 5 s (on SQLite, whose watcher only wakes for
        new events, it waited them out)."""
        waits = {asyncio.ensure_future(watcher.wait_async(generation, 5.0))}
        if stop is not None:
            waits.add(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _publish(self, js: JetStreamContext, event: dict[str, object]) -> None:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        ack = await js.publish(
            self.subject(str(event["type"])),
            body,
            stream=self._stream,
            headers={
                "Nats-Msg-Id": str(event["id"]),
                POSITION_HEADER: str(event["position"]),
                "Content-Type": MEDIA_TYPE,
            },
        )
        self.stats.published += 1
        if ack.duplicate:
            self.stats.duplicates += 1
        if self._on_published is not None:
            self._on_published(self.stats.published)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(self._stream)
        except NotFoundError:
            await js.add_stream(
                name=self._stream,
                subjects=[f"{self._prefix}.>"],
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
            log.info("created JetStream stream %s", self._stream)

    async def _last_published(self, js: JetStreamContext) -> int:
        info = await js.stream_info(self._stream)
        last = info.state.last_seq
        if not last:
            return 0
        try:
            message = await js.get_msg(self._stream, seq=last)
        except NotFoundError:  # purged or deleted since
            return 0
        return position_of((message.headers or {}).get(POSITION_HEADER))


def position_of(header: str | None) -> int:
    """The position a message's header names, or 0 for anything else (a stream may hold messages
    published by others; str.isdigit() alone accepts "²", which int() refuses)."""
    if header and header.isascii() and header.isdigit():
        return int(header)
    return 0
