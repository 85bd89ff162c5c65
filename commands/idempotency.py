"""Idempotency records: the first outcome of a command sent with an ``Idempotency-Key``.

A record is an aggregate saved in the same atomic ``app.save(...)`` as the events it caused, so
either both exist or neither does: a retry after a crash or timeout can never apply a command twice
nor find a record for a command that was not applied. Its id is derived from (principal, key), so
two concurrent first attempts collide on the primary key and exactly one wins.

The id is a uuid5 of the JSON array ``["idempotency", principal, key]``: JSON quotes and escapes
each string, so no two (principal, key) pairs share a name. The first derivation joined them with
"/" (``east`` + ``alice/k1`` named the same record as ``east/alice`` + ``k1``); records stored under
it are still found through ``legacy_record_id``, and trusted only if their own principal and key
match (see ``ComplaintsApp._replay``).
"""

from __future__ import annotations

import hashlib
import json
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from pydantic import BaseModel


def record_id(principal: str, key: str) -> UUID:
    return uuid5(NAMESPACE_URL, json.dumps(["idempotency", principal, key]))


def legacy_record_id(principal: str, key: str) -> UUID:
    """The id the first derivation gave (ambiguous: verify the record's fields before use)."""
    return uuid5(NAMESPACE_URL, f"/idempotency/{principal}/{key}")


def fingerprint(command_name: str, target: str | None, command: BaseModel) -> str:
    """Identifies a request by what it asks for, so a key replayed with another body is caught."""
    body = command.model_dump(mode="json")
    canonical = json.dumps([command_name, target, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyRecord(Aggregate):
    class Recorded(Aggregate.Created):
        principal: str
        key: str
        fingerprint: str
        complaint_id: UUID
        complaint_version: int

    def __init__(
        self,
        principal: str,
        key: str,
        fingerprint: str,
        complaint_id: UUID,
        complaint_version: int,
    ) -> None:
        self.principal = principal
        self.key = key
        self.fingerprint = fingerprint
        self.complaint_id = complaint_id
        self.complaint_version = complaint_version

    @classmethod
    def record(
        cls, principal: str, key: str, fingerprint: str, complaint_id: UUID, complaint_version: int
    ) -> IdempotencyRecord:
        return cls._create(
            cls.Recorded,
            id=record_id(principal, key),
            principal=principal,
            key=key,
            fingerprint=fingerprint,
            complaint_id=complaint_id,
            complaint_version=complaint_version,
        )
