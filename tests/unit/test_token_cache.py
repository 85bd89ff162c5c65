"""The token cache: accepted and rejected answers kept apart, least recently used evicted first."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from aggregates.access_token import AccessToken
from aggregates.provenance import Provenance
from commands.token_cache import TokenCache

BY = Provenance(actor="test", correlation_id="cache-test")


def token(expires_at: datetime | None = None) -> AccessToken:
    return AccessToken.issue(
        "alice", "agent", secret_hash=uuid4().hex, by=BY, expires_at=expires_at
    )


def test_rejections_never_evict_an_accepted_token() -> None:
    cache = TokenCache(60, accepted_size=3, rejected_size=3)
    valid = token()
    cache.put(valid.id, valid)
    for _ in range(1000):
        cache.put(uuid4(), None)
    assert cache.get(valid.id) == (True, valid)
    assert len(cache) == 1 + 3


def test_the_least_recently_used_accepted_token_is_evicted_first() -> None:
    cache = TokenCache(60, accepted_size=2)
    first, second, third = token(), token(), token()
    cache.put(first.id, first)
    cache.put(second.id, second)
    cache.get(first.id)  # first is now the most recently used
    cache.put(third.id, third)
    assert cache.get(first.id) == (True, first)
    assert cache.get(second.id) == (False, None)
    assert cache.get(third.id) == (True, third)


def test_answers_expire_after_the_time_to_live() -> None:
    cache = TokenCache(0.05)
    valid, unknown = token(), uuid4()
    cache.put(valid.id, valid)
    cache.put(unknown, None)
    assert cache.get(unknown) == (True, None)
    time.sleep(0.06)
    assert cache.get(valid.id) == (False, None)
    assert cache.get(unknown) == (False, None)
    assert len(cache) == 0


def test_a_token_expiring_while_cached_is_answered_as_refused() -> None:
    cache = TokenCache(60)
    soon = token(expires_at=datetime.now(UTC) + timedelta(milliseconds=50))
    cache.put(soon.id, soon)
    assert cache.get(soon.id) == (True, soon)
    time.sleep(0.06)
    assert cache.get(soon.id) == (True, None)


def test_a_zero_time_to_live_caches_nothing() -> None:
    cache = TokenCache(0)
    valid = token()
    cache.put(valid.id, valid)
    assert cache.get(valid.id) == (False, None)


def test_forget_drops_either_answer() -> None:
    cache = TokenCache(60)
    valid, unknown = token(), UUID(int=7)
    cache.put(valid.id, valid)
    cache.put(unknown, None)
    cache.forget(valid.id)
    cache.forget(unknown)
    assert cache.get(valid.id) == (False, None) and cache.get(unknown) == (False, None)
