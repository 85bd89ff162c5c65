"""Group commit: the saves of concurrent commands in one process written in one transaction.

PostgreSQL's recorder takes the event table's lock for every transaction (the library serialises
inserts so that notification ids commit in order); SQLite has one writer and a sync per
transaction. So one transaction per command makes every process's writes queue behind one lock,
one command at a time. Here a single writer thread takes what request threads hand it
(``save``): whatever queued while it wrote the previous batch (and, if ``window_seconds`` is
set, what comes within that time), up to ``max_commands``, and writes it with one
``Application.save``: the lock is taken once per batch. Each caller is answered only after its
batch commits (durability unchanged), with its own recordings, or with the error it would have
met alone:

- ``IntegrityError`` (a version, an idempotency record or a reference already taken): the losers
  are found by asking the store which of their first versions now exist; they get the
  ``IntegrityError`` (the caller tells a conflict from a replay as it always did) and the others
  are written again without them. Two commands of a batch never touch the same aggregate (the
  second waits for the next batch), so a loser's rival is always outside the batch.
- the database unreachable (``OperationalError``, ``InterfaceError``): every command of the batch
  would have met it alone, so every one gets it.
- anything else (a value the database or the mapper refuses): each command is written alone, so
  only the one that causes it fails.

The library has no such thing (its ``save`` is synchronous and per call), hence this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    Recording,
)

_ENVIRONMENT_ERRORS = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class GroupCommitOptions:
    enabled: bool = True
    window_seconds: float = 0.0
    """How long the writer waits for more commands once the queue is empty. 0 (the default):
    a batch is what queued while the previous one was written, so a lone command waits for
    nothing; a timed wait cost about 1 ms of CPU per batch on this machine kind."""
    max_commands: int = 64
    """Largest batch (saves, not events)."""


@dataclass(eq=False)
class _Save:
    """One caller's save: its events, and how the writer hands back the outcome (``done``: a
    threading event's ``set``, or an asyncio future's, called on its loop)."""

    events: list[DomainEventProtocol[UUID]]
    originators: frozenset[UUID]
    done: Callable[[], None]
    recordings: list[Recording[UUID]] = field(default_factory=list)
    error: BaseException | None = None

    def succeed(self, recordings: list[Recording[UUID]]) -> None:
        self.recordings = recordings
        self.done()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done()

    def outcome(self) -> list[Recording[UUID]]:
        if self.error is not None:
            raise self.error
        return self.recordings


class GroupCommit:
    """Writes concurrent saves in shared transactions (see the module's docstring). ``save`` has
    ``Application.save``'s meaning and blocks until the transaction holding it has committed."""

    def __init__(self, app: Application[UUID], options: GroupCommitOptions) -> None:
        self._app = app
        self.options = options
        self._queue: queue.SimpleQueue[_Save | None] = queue.SimpleQueue()
        self._carried: list[_Save] = []
        """Saves taken from the queue that touched an aggregate already in the batch."""
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.batches = 0
        """Transactions written (for tests and benchmarks: saves / batches is the batching)."""

    def save(self, *objs: Any) -> list[Recording[UUID]]:
        events = _collect(objs)
        written = threading.Event()
        pending = _Save(events, frozenset(e.originator_id for e in events), written.set)
        if not self._enqueue(pending):
            return self._app.save(*events)
        written.wait()
        return pending.outcome()

    async def save_async(self, *objs: Any) -> list[Recording[UUID]]:
        """``save`` for an event loop: the loop goes on serving while the batch is written."""
        events = _collect(objs)
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()

        def done() -> None:  # called on the writer thread
            # The loop may have closed meanwhile (its process shutting down): nobody waits then,
            # and the writer must not die of it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, written)

        pending = _Save(events, frozenset(e.originator_id for e in events), done)
        if not self._enqueue(pending):
            return self._app.save(*events)
        await written
        return pending.outcome()

    def _enqueue(self, pending: _Save) -> bool:
        """Hands ``pending`` to the writer; False when it is to be written directly."""
        if not self.options.enabled:
            return False
        with self._lock:  # so that nothing is queued behind the writer's last batch
            if self._closed:
                return False
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._writer.start()
            self._queue.put(pending)
        return True

    def close(self) -> None:
        """Writes what is queued, then stops the writer; later saves are written directly."""
        with self._lock:
            self._closed = True
            writer = self._writer
            if writer is not None:
                self._queue.put(None)
        if writer is not None:
            writer.join()

    def _run(self) -> None:
        stopping = False
        while not stopping or self._carried:
            batch, stopping = self._next_batch(stopping)
            if batch:
                self._write(batch)

    def _next_batch(self, stopping: bool) -> tuple[list[_Save], bool]:
        batch: list[_Save] = []
        touched: set[UUID] = set()

        def take(item: _Save) -> None:
            if item.originators & touched:
                self._carried.append(item)
            else:
                batch.append(item)
                touched.update(item.originators)

        carried, self._carried = self._carried, []
        for kept in carried:
            take(kept)
        deadline: float | None = None
        item: _Save | None
        while not stopping and len(batch) < self.options.max_commands:
            try:
                if not batch and not self._carried:
                    item = self._queue.get()  # idle: sleep until a save comes
                elif deadline is None:
                    item = self._queue.get_nowait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    item = self._queue.get(timeout=remaining)
            except queue.Empty:
                # Everything queued is taken: wait a little for more, once.
                if deadline is not None or self.options.window_seconds <= 0:
                    break
                deadline = time.monotonic() + self.options.window_seconds
                continue
            if item is None:
                stopping = True
            else:
                take(item)
        return batch, stopping

    def _write(self, batch: Sequence[_Save]) -> None:
        try:
            recordings = self._app.save(*(e for s in batch for e in s.events))
        except IntegrityError as conflict:
            if len(batch) == 1:
                batch[0].fail(conflict)
                return
            losers = [s for s in batch if self._lost(s)]
            if not losers:  # the rival has gone again (rare): let each find out alone
                for s in batch:
                    self._write([s])
                return
            for s in losers:
                s.fail(conflict)
            self._write([s for s in batch if s not in losers])
            return
        except _ENVIRONMENT_ERRORS as error:
            for s in batch:
                s.fail(error)
            return
        except Exception as error:
            if len(batch) == 1:
                batch[0].fail(error)
                return
            for s in batch:
                self._write([s])
            return
        self.batches += 1
        by_originator: dict[UUID, list[Recording[UUID]]] = {}
        for recording in recordings:
            by_originator.setdefault(recording.domain_event.originator_id, []).append(recording)
        for s in batch:
            s.succeed([r for o in s.originators for r in by_originator.get(o, ())])

    def _lost(self, save: _Save) -> bool:
        """Whether one of the versions this save would write is already stored."""
        first: dict[UUID, int] = {}
        for event in save.events:
            version = event.originator_version
            if first.get(event.originator_id, version + 1) > version:
                first[event.originator_id] = version
        recorder = self._app.recorder
        return any(
            recorder.select_events(originator, gt=version - 1, lte=version, limit=1)
            for originator, version in first.items()
        )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # a cancelled request no longer waits; its save still happens
        future.set_result(None)


def _collect(objs: Sequence[Any]) -> list[DomainEventProtocol[UUID]]:
    """The pending events of ``objs`` (aggregates, events, or None), taken out as
    ``Application.save`` would: a batch written again after a conflict needs them still."""
    events: list[DomainEventProtocol[UUID]] = []
    for obj in objs:
        if obj is None:
            continue
        # An attribute test first: ``isinstance`` against the library's runtime-checkable
        # protocols costs about 10 us per object, and every command saves one or two aggregates.
        collect = getattr(obj, "collect_events", None)
        if collect is not None:
            events.extend(collect())
        elif isinstance(obj, DomainEventProtocol):
            events.append(obj)
    return events
