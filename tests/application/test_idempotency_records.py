"""Idempotency records: one per (principal, key) pair, never shared by two pairs."""

from __future__ import annotations

from uuid import UUID

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.errors import IdempotencyKeyReusedError
from commands.idempotency import IdempotencyRecord, fingerprint, legacy_record_id, record_id
from commands.models import FileComplaint
from tests.intake import intake

FILING = FileComplaint.model_validate(intake())


def keyed(principal: str, key: str) -> CommandContext:
    return CommandContext(
        principal=principal, role="agent", correlation_id="c", idempotency_key=key
    )


def test_pairs_that_joined_with_a_slash_collided_are_independent(app: ComplaintsApp) -> None:
    first = app.file_complaint(FILING, keyed("east", "alice/k1"))
    second = app.file_complaint(FILING, keyed("east/alice", "k1"))
    assert not first.replayed and not second.replayed
    assert first.complaint_id != second.complaint_id
    # And each still replays its own outcome, not the other's.
    again = app.file_complaint(FILING, keyed("east/alice", "k1"))
    assert again.replayed and again.complaint_id == second.complaint_id
    again = app.file_complaint(FILING, keyed("east", "alice/k1"))
    assert again.replayed and again.complaint_id == first.complaint_id


def test_record_ids_differ_for_every_split_of_the_same_text() -> None:
    pairs = [
        ("east", "alice/k1"), ("east/alice", "k1"), ("east/alice/k1", ""), ("", "east/alice/k1"),
    ]
    assert len({record_id(p, k) for p, k in pairs}) == len(pairs)
    # What the first derivation did: the first two pairs named one record.
    assert legacy_record_id(*pairs[0]) == legacy_record_id(*pairs[1])


def save_legacy_record(app: ComplaintsApp, principal: str, key: str, complaint_id: UUID) -> None:
    """Saves a record as the first derivation stored it (before the upgrade)."""
    filed = app.get_complaint(complaint_id)
    record = IdempotencyRecord._create(
        IdempotencyRecord.Recorded,
        id=legacy_record_id(principal, key),
        principal=principal,
        key=key,
        fingerprint=fingerprint("file", None, FILING),
        complaint_id=filed.id,
        complaint_version=filed.version,
    )
    app.save(record)


def test_a_retry_after_the_upgrade_finds_a_record_stored_before_it(app: ComplaintsApp) -> None:
    unkeyed = CommandContext(principal="east", role="agent", correlation_id="c")
    original = app.file_complaint(FILING, unkeyed)
    save_legacy_record(app, "east", "alice/k1", original.complaint_id)
    head = app.recorder.max_notification_id()
    retry = app.file_complaint(FILING, keyed("east", "alice/k1"))
    assert retry.replayed and retry.complaint_id == original.complaint_id
    assert app.recorder.max_notification_id() == head
    with pytest.raises(IdempotencyKeyReusedError):
        other = FileComplaint.model_validate(intake(subject="Another request"))
        app.file_complaint(other, keyed("east", "alice/k1"))


def test_a_legacy_record_of_another_pair_is_not_trusted(app: ComplaintsApp) -> None:
    unkeyed = CommandContext(principal="east", role="agent", correlation_id="c")
    original = app.file_complaint(FILING, unkeyed)
    save_legacy_record(app, "east", "alice/k1", original.complaint_id)
    # ("east/alice", "k1") had the same legacy id: it must neither replay nor be refused.
    fresh = app.file_complaint(FILING, keyed("east/alice", "k1"))
    assert not fresh.replayed and fresh.complaint_id != original.complaint_id
