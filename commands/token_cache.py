"""Recent answers to "which active token is this?", because every request asks.

Two bounded, least-recently-used maps, each entry kept for at most ``ttl_seconds``:

- *accepted*: token id -> the token. Sized for every token in real use, so a busy client's entry
  stays while it keeps calling.
- *rejected*: ids that named no active token. Kept apart and much smaller: a client spraying random
  secrets only churns this map and can never push an accepted token out, which would turn each of
  its legitimate requests into a store read again.

The time to live bounds how long a revocation (or issue) made by another process goes unseen here.
Thread-safe: requests authenticate from the event loop and from worker threads at once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache

from aggregates.access_token import AccessToken

ACCEPTED_SIZE = 10_000
REJECTED_SIZE = 1_000


class TokenCache:
    def __init__(
        self,
        ttl_seconds: float,
        accepted_size: int = ACCEPTED_SIZE,
        rejected_size: int = REJECTED_SIZE,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        # The library's LRU cache (its repository's aggregate cache): locked, evicts the least
        # recently used entry when full.
        self._accepted: LRUCache[UUID, tuple[AccessToken, float]] = LRUCache(accepted_size)
        self._rejected: LRUCache[UUID, float] = LRUCache(rejected_size)

    def get(self, token_id: UUID) -> tuple[bool, AccessToken | None]:
        """(whether an answer is cached, the active token or None)."""
        now = time.monotonic()
        try:
            token, expires = self._accepted.get(token_id)
        except KeyError:
            pass
        else:
            if expires > now:
                # A token's own expiry can fall within the time to live.
                return True, token if token.is_active_at(datetime.now(UTC)) else None
            self._evict(self._accepted, token_id)
        try:
            rejected_until = self._rejected.get(token_id)
        except KeyError:
            return False, None
        if rejected_until > now:
            return True, None
        self._evict(self._rejected, token_id)
        return False, None

    def put(self, token_id: UUID, token: AccessToken | None) -> None:
        if self.ttl_seconds <= 0:
            return
        expires = time.monotonic() + self.ttl_seconds
        if token is not None:
            self._evict(self._rejected, token_id)
            self._accepted.put(token_id, (token, expires))
        else:
            self._evict(self._accepted, token_id)
            self._rejected.put(token_id, expires)

    def forget(self, token_id: UUID) -> None:
        self._evict(self._accepted, token_id)
        self._evict(self._rejected, token_id)

    def __len__(self) -> int:
        return len(self._accepted.cache) + len(self._rejected.cache)

    @staticmethod
    def _evict(cache: LRUCache[UUID, Any], token_id: UUID) -> None:
        try:
            cache.get(token_id, evict=True)
        except KeyError:  # never cached, or another thread evicted it first
            pass
