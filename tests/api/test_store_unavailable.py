"""A database that is down or busy is a 503 with Retry-After, never a 500.

Before: with the database down, any request whose token was not cached answered 500.
"""

from __future__ import annotations

import sqlite3

import eventsourcing.persistence
import psycopg
import pytest
from fastapi.testclient import TestClient

from commands.application import ComplaintsApp


@pytest.mark.parametrize(
    "failure",
    [
        eventsourcing.persistence.OperationalError("server closed the connection unexpectedly"),
        eventsourcing.persistence.InterfaceError("connection already closed"),
        psycopg.OperationalError("connection refused"),
        sqlite3.OperationalError("database is locked"),
    ],
    ids=lambda e: type(e).__module__ + "." + type(e).__name__,
)
def test_an_unreachable_store_is_a_503_with_retry_after(
    client: TestClient, app: ComplaintsApp, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    def unreachable(*args: object, **kwargs: object) -> object:
        raise failure

    monkeypatch.setattr(app.tokens, "authenticate", unreachable)
    response = client.get("/complaints", headers={"Authorization": "Bearer clt_not_cached"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/store-unavailable")
