"""Recording signed checkpoints of the hash chain (docs/audit.md), on demand and periodically.

A checkpoint is computed from the store's chain heads as of the last position, signed with the
audit key, and saved as an event of the ``AuditCheckpoints`` aggregate through the application
(so it is chained like every other event). The heads come from the database through the
``ChainHeads`` protocol: the write side does not import the read side's ``Database``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from aggregates.audit_chain import (
    SIGNATURE_ALGORITHM,
    ChainHead,
    audit_key_id,
    checkpoint_message,
    merkle_root,
    sign_checkpoint,
)
from aggregates.audit_checkpoint import CHECKPOINTS_ID, AuditCheckpoints
from commands.context import CommandContext

log = logging.getLogger(__name__)

SAVE_ATTEMPTS = 3


class ChainHeads(Protocol):
    """What the checkpoint service reads of the store (``Database.chain_heads``)."""

    def chain_heads(self, up_to: int | None = None) -> tuple[int, list[ChainHead]]: ...


@dataclass(frozen=True)
class Checkpoint:
    """A recorded checkpoint, as its event states it."""

    number: int
    """The version of its event in the checkpoints aggregate (the first checkpoint is 2)."""
    position: int
    aggregate_count: int
    event_count: int
    root: str
    algorithm: str
    key_id: str
    signature: str
    recorded_at: datetime
    recorded_by: str

    @property
    def message(self) -> bytes:
        return checkpoint_message(
            self.position, self.aggregate_count, self.event_count, bytes.fromhex(self.root)
        )


class CheckpointService:
    def __init__(self, app: Application[UUID], heads: ChainHeads, key: bytes) -> None:
        self._app = app
        self._heads = heads
        self._key = key
        self.key_id = audit_key_id(key)

    def record(self, ctx: CommandContext) -> Checkpoint:
        """Signs and saves a checkpoint of the store as of its last position."""
        for attempt in range(SAVE_ATTEMPTS):
            position, heads = self._heads.chain_heads()
            root = merkle_root(heads)
            aggregate_count, event_count = len(heads), sum(h.version for h in heads)
            signature = sign_checkpoint(
                self._key, checkpoint_message(position, aggregate_count, event_count, root)
            )
            checkpoints: AuditCheckpoints
            try:
                checkpoints = self._app.repository.get(CHECKPOINTS_ID)
            except AggregateNotFoundError:
                checkpoints = AuditCheckpoints.start(
                    actor=ctx.principal, correlation_id=ctx.correlation_id
                )
            checkpoints.record(
                position=position,
                aggregate_count=aggregate_count,
                event_count=event_count,
                root=root.hex(),
                algorithm=SIGNATURE_ALGORITHM,
                key_id=self.key_id,
                signature=signature.hex(),
                actor=ctx.principal,
                correlation_id=ctx.correlation_id,
            )
            try:
                self._app.save(checkpoints)
            except IntegrityError:  # another process recorded one meanwhile
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                continue
            return self.all()[-1]
        raise AssertionError("unreachable")

    def all(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        return [
            Checkpoint(
                number=e.originator_version,
                position=e.position,
                aggregate_count=e.aggregate_count,
                event_count=e.event_count,
                root=e.root,
                algorithm=e.algorithm,
                key_id=e.key_id,
                signature=e.signature,
                recorded_at=e.timestamp,
                recorded_by=e.actor,
            )
            for e in self._app.events.get(CHECKPOINTS_ID)
            if isinstance(e, AuditCheckpoints.CheckpointRecorded)
        ]

    def covered_events(self) -> int:
        """Events of the store other than checkpoints (what a new checkpoint would add to)."""
        _, heads = self._heads.chain_heads()
        return sum(h.version for h in heads if h.originator_id != CHECKPOINTS_ID)


class CheckpointTimer:
    """Records a checkpoint every ``interval_seconds`` in a daemon thread (``complaints serve``),
    skipping a period in which nothing but checkpoints was recorded."""

    def __init__(
        self,
        service: CheckpointService,
        interval_seconds: float,
        context: Callable[[], CommandContext],
    ) -> None:
        self._service = service
        self._interval = interval_seconds
        self._context = context
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)
        self._covered: int | None = None

    def start(self) -> CheckpointTimer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def tick(self) -> Checkpoint | None:
        """Records a checkpoint unless nothing new was stored since this timer's last one."""
        covered = self._service.covered_events()
        if covered == self._covered:
            return None
        checkpoint = self._service.record(self._context())
        self._covered = covered
        return checkpoint

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:  # the store may be away: try again next period
                log.exception(
                    "recording an audit checkpoint failed; trying again in %ss", self._interval
                )


def timer_context() -> CommandContext:
    return CommandContext(principal="audit-checkpoints", role="service", correlation_id=uuid4().hex)
