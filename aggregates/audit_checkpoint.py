"""Signed checkpoints of the hash chain: one aggregate, one event per checkpoint.

A checkpoint states "at log position P the store held these aggregates' heads" as a Merkle root
(``aggregates/audit_chain.py``) with the number of aggregates and events, signed with the audit
key. What the per-aggregate chain cannot show (a whole aggregate deleted, an aggregate's last
events deleted, the log cut short) changes the root, the counts, or leaves a checkpoint that
covers positions the store no longer has.

One aggregate with a fixed id, so that the verifier reads every checkpoint with one primary-key
range read; its events are ordinary stored events, chained like any other.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

CHECKPOINTS_ID: UUID = uuid5(NAMESPACE_URL, "/audit/checkpoints")


class AuditCheckpoints(Aggregate):
    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None

    class Started(Aggregate.Created):
        actor: str
        correlation_id: str
        causation_id: str | None

    class CheckpointRecorded(Event):
        position: int
        """The last log position the checkpoint covers."""
        aggregate_count: int
        event_count: int
        root: str
        """The Merkle root, hex."""
        algorithm: str
        key_id: str
        signature: str
        """The signature of ``audit_chain.checkpoint_message(...)``, hex."""

    @classmethod
    def start(cls, *, actor: str, correlation_id: str) -> AuditCheckpoints:
        return cls._create(
            cls.Started,
            id=CHECKPOINTS_ID,
            actor=actor,
            correlation_id=correlation_id,
            causation_id=None,
        )

    def __init__(self, actor: str, correlation_id: str, causation_id: str | None) -> None:
        self.last_position = 0

    def record(
        self,
        *,
        position: int,
        aggregate_count: int,
        event_count: int,
        root: str,
        algorithm: str,
        key_id: str,
        signature: str,
        actor: str,
        correlation_id: str,
    ) -> None:
        self._record(
            position=position,
            aggregate_count=aggregate_count,
            event_count=event_count,
            root=root,
            algorithm=algorithm,
            key_id=key_id,
            signature=signature,
            actor=actor,
            correlation_id=correlation_id,
            causation_id=None,
        )

    @event(CheckpointRecorded)
    def _record(
        self,
        position: int,
        aggregate_count: int,
        event_count: int,
        root: str,
        algorithm: str,
        key_id: str,
        signature: str,
        actor: str,
        correlation_id: str,
        causation_id: str | None,
    ) -> None:
        self.last_position = position
