"""API access tokens: a principal name and a role, known only by the hash of the secret.

The token's aggregate id is derived from the hash of its secret, so authenticating a request is a
primary-key read of one short event stream; the secret itself is never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from aggregates.errors import IllegalTransitionError, InvalidIntakeError
from aggregates.provenance import Provenance
from aggregates.vocabulary import Role

TOKEN_PREFIX = "clt_"


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_id_for_hash(secret_hash: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/access-tokens/{secret_hash}")


class AccessToken(Aggregate):
    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None

    class Issued(Aggregate.Created):
        actor: str
        correlation_id: str
        causation_id: str | None
        name: str
        role: str
        secret_hash: str

        def apply(self, token: AccessToken) -> None:
            token.name = self.name
            token.role = self.role
            token.secret_hash = self.secret_hash
            token.revoked_at = None

    class Revoked(Event):
        def apply(self, token: AccessToken) -> None:
            token.revoked_at = self.timestamp

    name: str
    role: str
    secret_hash: str
    revoked_at: datetime | None

    def __init__(self) -> None:
        pass

    @classmethod
    def issue(cls, name: str, role: str, *, secret_hash: str, by: Provenance) -> AccessToken:
        if not name.strip():
            raise InvalidIntakeError("name", "is required")
        if role not in {r.value for r in Role}:
            raise InvalidIntakeError("role", "must be one of: " + ", ".join(r.value for r in Role))
        return cls._create(
            cls.Issued,
            id=token_id_for_hash(secret_hash),
            name=name,
            role=role,
            secret_hash=secret_hash,
            **by.as_event_fields(),
        )

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, *, by: Provenance) -> None:
        if not self.is_active:
            raise IllegalTransitionError("the token is already revoked")
        self.trigger_event(self.Revoked, **by.as_event_fields())
