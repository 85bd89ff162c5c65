"""The access-token service: issue, authenticate (through a cache), list and revoke tokens.

Tokens are ``AccessToken`` aggregates saved through the same eventsourcing ``Application`` as the
complaints (one store, one notification log), so the service borrows that application rather than
being one; ``ComplaintsApp`` builds one instance, ``app.tokens``, because the cache must be one per
process for a revocation made here to take effect at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.utils import get_topic

from aggregates.access_token import AccessToken, hash_secret, new_secret, token_id_for_hash
from commands.context import CommandContext
from commands.errors import TokenNotFoundError
from commands.listing import created
from commands.token_cache import TokenCache


@dataclass(frozen=True)
class IssuedToken:
    token_id: UUID
    name: str
    role: str
    secret: str
    teams: tuple[str, ...] = ()
    grants: frozenset[str] = frozenset()
    issued_at: datetime | None = None


@dataclass(frozen=True)
class TokenInfo:
    token_id: UUID
    name: str
    role: str
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None
    expires_at: datetime | None = None
    teams: tuple[str, ...] = ()
    grants: frozenset[str] = frozenset()


class TokenService:
    """Bearer tokens of the API's principals, stored as hashes in the application's event store.

    Every request authenticates, so answers are remembered for ``cache_seconds`` (a
    ``TokenCache``); long-lived requests re-check past the cache with ``recheck``.
    """

    CACHE_SECONDS = 5.0
    """Default of ``cache_seconds`` (setting ``COMPLAINTS_TOKEN_CACHE_SECONDS``)."""

    def __init__(self, app: Application[UUID], cache_seconds: float = CACHE_SECONDS) -> None:
        self._app = app
        self.cache = TokenCache(cache_seconds)

    def issue(
        self,
        name: str,
        role: str,
        ctx: CommandContext,
        expires_at: datetime | None = None,
        *,
        teams: Sequence[str] = (),
        grants: Sequence[str] = (),
    ) -> IssuedToken:
        secret = new_secret()
        token = AccessToken.issue(
            name,
            role,
            secret_hash=hash_secret(secret),
            by=ctx.provenance,
            expires_at=expires_at,
            teams=teams,
            grants=grants,
        )
        self._app.save(token)
        return IssuedToken(
            token.id, token.name, token.role, secret, token.teams, token.grants, token.created_on
        )

    def authenticate(self, secret: str) -> AccessToken | None:
        """Returns the active token for ``secret``, or None.

        Answers are cached (``cache_seconds``, 5 s by default) because every request
        authenticates: a revocation made by this process takes effect at once, one made by another
        process (e.g. the CLI) within that time. An expired token is refused from its expiry on.
        """
        token_id = token_id_for_hash(hash_secret(secret))
        known, cached = self.cache.get(token_id)
        if known:
            return cached
        return self.recheck(token_id)

    def cached(self, secret: str) -> tuple[bool, AccessToken | None]:
        """Answers from memory only: (whether the answer is cached, the active token or None)."""
        return self.cache.get(token_id_for_hash(hash_secret(secret)))

    def recheck(self, token_id: UUID) -> AccessToken | None:
        """The token as the store has it now if it is still active, else None (bypasses the cache).

        For long-lived requests (event streams), which must notice a revocation made by any
        process; one primary-key read, as the repository fast-forwards its cached copy.
        """
        try:
            token: AccessToken | None = self._app.repository.get(token_id)
        except AggregateNotFoundError:
            token = None
        if not isinstance(token, AccessToken):  # an unknown id, or another aggregate's
            token = None
        active = token if token is not None and token.is_active_at(datetime.now(UTC)) else None
        self.cache.put(token_id, active)
        return active

    def all(self) -> list[TokenInfo]:
        """Every token ever issued, revoked and expired ones included, in issue order."""
        return [
            TokenInfo(
                token.id,
                token.name,
                token.role,
                token.created_on,
                self._issuer(token.id),
                token.revoked_at,
                token.expires_at,
                token.teams,
                token.grants,
            )
            for token in created(self._app, AccessToken.Issued, AccessToken)
        ]

    def has_any(self) -> bool:
        """Whether any token was ever issued (a first start hands over an admin token)."""
        topic = get_topic(AccessToken.Issued)
        return bool(self._app.recorder.select_notifications(start=1, limit=1, topics=[topic]))

    def revoke(self, id_or_name: str, ctx: CommandContext) -> list[UUID]:
        """Revokes one token by id, or every active token with that principal name."""
        matches = [
            t
            for t in self.all()
            if t.revoked_at is None and (str(t.token_id) == id_or_name or t.name == id_or_name)
        ]
        if not matches:
            raise TokenNotFoundError(f"no active token with id or name {id_or_name!r}")
        revoked = []
        for info in matches:
            token: AccessToken = self._app.repository.get(info.token_id)
            token.revoke(by=ctx.provenance)
            self._app.save(token)
            self.cache.forget(token.id)
            revoked.append(token.id)
        return revoked

    def revoke_one(self, token_id: UUID, ctx: CommandContext) -> None:
        """Revokes the token with this id (``DELETE /tokens/{id}``); one already revoked is
        an ``IllegalTransitionError``."""
        token: object
        try:
            token = self._app.repository.get(token_id)
        except AggregateNotFoundError:
            token = None
        if not isinstance(token, AccessToken):
            raise TokenNotFoundError(f"no token with id {token_id}")
        token.revoke(by=ctx.provenance)
        self._app.save(token)
        self.cache.forget(token.id)

    def _issuer(self, token_id: UUID) -> str:
        first = next(iter(self._app.events.get(token_id, limit=1)))
        return str(getattr(first, "actor", ""))
