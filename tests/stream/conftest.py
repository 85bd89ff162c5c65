"""Fixtures shared by the event-stream tests: a local webhook receiver, the NATS server and a
JetStream stream of the test's own."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from infra.settings import Settings
from tests.stream.jetstream import delete_stream
from tests.stream.receiver import Receiver, receiver

NATS_URL = os.environ.get("COMPLAINTS_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def hook() -> Iterator[Receiver]:
    """A webhook receiver on a loopback port (tests allow loopback targets explicitly)."""
    with receiver() as r:
        yield r


@pytest.fixture
def nats_url() -> str:
    """JetStream at COMPLAINTS_TEST_NATS_URL; skipped with a one-line reason when unreachable,
    except under CI=true, where it must run."""
    parts = urlsplit(NATS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 4222), timeout=2).close()
    except OSError as e:
        reason = f"NATS not reachable at {NATS_URL}: {e}"
        if IN_CI:
            pytest.fail(f"CI=true requires NATS: {reason}")
        pytest.skip(reason)
    return NATS_URL


@pytest.fixture
def relay_settings(settings: Settings, nats_url: str) -> Iterator[Settings]:
    """Settings naming a JetStream stream and subjects of this test's own; the stream is deleted
    afterwards (the server outlives the test)."""
    tag = uuid.uuid4().hex[:10]
    own = settings.model_copy(
        update={"nats_stream": f"TEST_{tag}", "nats_subject_prefix": f"test_{tag}.events"}
    )
    yield own
    asyncio.run(delete_stream(nats_url, own.nats_stream))
