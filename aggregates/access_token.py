"""API access tokens: a principal name and a role, known only by the hash of the secret.

The token's aggregate id is derived from the hash of its secret, so authenticating a request is a
primary-key read of one short event stream; the secret itself is never stored. A token may carry an
expiry; it is then refused from that instant on, as if revoked, without anyone having to act.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from aggregates.errors import IllegalTransitionError, InvalidIntakeError
from aggregates.provenance import Provenance
from aggregates.vocabulary import Grant, Role

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
        # A default, because tokens issued before expiry existed were stored without the field;
        # the mapper then finds this class attribute.
        expires_at: datetime | None = None
        # Teams the principal acts for, and grants beyond the role (issue 11); defaults for
        # tokens issued before they existed. Stored as JSON lists.
        teams: list[str] | None = None
        grants: list[str] | None = None

        def apply(self, token: AccessToken) -> None:
            token.name = self.name
            token.role = self.role
            token.secret_hash = self.secret_hash
            token.expires_at = self.expires_at
            token.revoked_at = None
            token.teams = tuple(self.teams or ())
            token.grants = frozenset(self.grants or ())

    class Revoked(Event):
        def apply(self, token: AccessToken) -> None:
            token.revoked_at = self.timestamp

    name: str
    role: str
    secret_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None
    teams: tuple[str, ...]
    grants: frozenset[str]

    def __init__(self) -> None:
        pass

    @classmethod
    def issue(
        cls,
        name: str,
        role: str,
        *,
        secret_hash: str,
        by: Provenance,
        expires_at: datetime | None = None,
        teams: Sequence[str] = (),
        grants: Sequence[str] = (),
    ) -> AccessToken:
        if not name.strip():
            raise InvalidIntakeError("name", "is required")
        if role not in {r.value for r in Role}:
            raise InvalidIntakeError("role", "must be one of: " + ", ".join(r.value for r in Role))
        for team in teams:
            if (
                not team.strip()
                or team != team.strip()
                or any(ch.isspace() and ch != " " for ch in team)
            ):
                raise InvalidIntakeError("teams", f"{team!r} is not a team name")
        unknown = sorted(set(grants) - {g.value for g in Grant})
        if unknown:
            raise InvalidIntakeError(
                "grants", f"unknown {unknown[0]!r}; known: " + ", ".join(g.value for g in Grant)
            )
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidIntakeError("expires_at", "needs a UTC offset")
            if expires_at <= datetime.now(UTC):
                raise InvalidIntakeError("expires_at", "must be in the future")
        return cls._create(
            cls.Issued,
            id=token_id_for_hash(secret_hash),
            name=name,
            role=role,
            secret_hash=secret_hash,
            expires_at=expires_at,
            teams=list(dict.fromkeys(teams)),
            grants=sorted(set(grants)),
            **by.as_event_fields(),
        )

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_active_at(self, moment: datetime) -> bool:
        """Whether requests made at ``moment`` may use the token: not revoked, not expired."""
        return not self.is_revoked and (self.expires_at is None or moment < self.expires_at)

    def revoke(self, *, by: Provenance) -> None:
        if self.is_revoked:
            raise IllegalTransitionError("the token is already revoked")
        self.trigger_event(self.Revoked, **by.as_event_fields())
