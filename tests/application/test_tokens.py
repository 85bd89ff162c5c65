"""The token service (``app.tokens``) against the store: hashes, the cache, revocation from another
process, expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregates.access_token import AccessToken, hash_secret, new_secret
from aggregates.errors import InvalidIntakeError
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.token_cache import TokenCache
from infra.bootstrap import bootstrap
from infra.settings import Settings

TTL = 0.3


@pytest.fixture
def other_process(settings: Settings) -> Iterator[ComplaintsApp]:
    """A second application on the same store, as the CLI would be."""
    with bootstrap(settings) as other:
        yield other.app


def count_store_reads(app: ComplaintsApp, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    reads: list[Any] = []
    get = app.repository.get

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args[0])
        return get(*args, **kwargs)

    monkeypatch.setattr(app.repository, "get", counted)
    return reads


def test_tokens_are_stored_as_hashes_and_can_be_revoked(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    issued = app.tokens.issue("dora", "supervisor", ctx)
    token = app.tokens.authenticate(issued.secret)
    assert token is not None and (token.name, token.role) == ("dora", "supervisor")
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=100))
    assert issued.secret.encode() not in stored
    app.tokens.revoke("dora", ctx)
    assert app.tokens.authenticate(issued.secret) is None
    assert app.tokens.authenticate("clt_not-a-token") is None
    assert [t.revoked_at is not None for t in app.tokens.all()] == [True]


def test_spraying_random_tokens_does_not_evict_a_valid_cached_token(
    app: ComplaintsApp, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small sizes, so that the spray is many times larger than either map.
    app.tokens.cache = TokenCache(60, accepted_size=50, rejected_size=20)
    secret = app.tokens.issue("alice", "agent", ctx).secret
    assert app.tokens.authenticate(secret) is not None
    reads = count_store_reads(app, monkeypatch)
    for _ in range(300):
        assert app.tokens.authenticate(new_secret()) is None
    assert len(reads) == 300  # every unknown secret was looked up once
    reads.clear()
    token = app.tokens.authenticate(secret)
    assert token is not None and token.name == "alice"
    assert reads == []  # answered from the cache: the spray did not push it out


def test_a_revocation_by_another_process_takes_effect_within_token_cache_seconds(
    app: ComplaintsApp, other_process: ComplaintsApp, ctx: CommandContext
) -> None:
    app.tokens.cache = TokenCache(TTL)
    secret = app.tokens.issue("alice", "agent", ctx).secret
    assert app.tokens.authenticate(secret) is not None  # now cached here
    other_process.tokens.revoke("alice", ctx)
    revoked_at = time.monotonic()
    while app.tokens.authenticate(secret) is not None:
        assert time.monotonic() - revoked_at < TTL + 0.2, "still accepted past the cache time"
        time.sleep(0.02)


def test_a_revocation_in_this_process_takes_effect_at_once(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    secret = app.tokens.issue("alice", "agent", ctx).secret
    assert app.tokens.authenticate(secret) is not None
    app.tokens.revoke("alice", ctx)
    assert app.tokens.authenticate(secret) is None


def test_recheck_reads_the_store_past_the_cache(
    app: ComplaintsApp, other_process: ComplaintsApp, ctx: CommandContext
) -> None:
    issued = app.tokens.issue("alice", "agent", ctx)
    assert app.tokens.authenticate(issued.secret) is not None
    other_process.tokens.revoke(str(issued.token_id), ctx)
    assert app.tokens.recheck(issued.token_id) is None
    assert app.tokens.authenticate(issued.secret) is None  # and the cache now knows


def test_an_expired_token_is_refused_even_while_cached(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    expires_at = datetime.now(UTC) + timedelta(milliseconds=300)
    issued = app.tokens.issue("temp", "agent", ctx, expires_at=expires_at)
    token = app.tokens.authenticate(issued.secret)
    assert token is not None and token.expires_at == expires_at
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    assert app.tokens.authenticate(issued.secret) is None
    assert app.tokens.recheck(issued.token_id) is None
    [info] = [t for t in app.tokens.all() if t.token_id == issued.token_id]
    assert info.expires_at == expires_at and info.revoked_at is None


@pytest.mark.parametrize("expires_at", [datetime(2020, 1, 1, tzinfo=UTC), datetime(2999, 1, 1)])
def test_an_expiry_must_be_a_future_instant_with_offset(
    app: ComplaintsApp, ctx: CommandContext, expires_at: datetime
) -> None:
    with pytest.raises(InvalidIntakeError) as error:
        app.tokens.issue("temp", "agent", ctx, expires_at=expires_at)
    assert error.value.field == "expires_at"


def test_a_token_stored_before_expiry_existed_still_authenticates(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    secret = new_secret()
    token = AccessToken.issue(
        "veteran", "admin", secret_hash=hash_secret(secret), by=ctx.provenance
    )
    [issued] = token.collect_events()
    stored = app.mapper.to_stored_event(issued)
    state = app.mapper.transcoder.decode(stored.state)
    del state["expires_at"]  # the shape of Issued events recorded before the field existed
    app.recorder.insert_events([replace(stored, state=app.mapper.transcoder.encode(state))])
    authenticated = app.tokens.authenticate(secret)
    assert authenticated is not None and authenticated.name == "veteran"
    assert authenticated.expires_at is None
