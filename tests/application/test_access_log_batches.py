"""The access log writes the entries of concurrent answers together, and each answer still returns
only once its own entries are committed (both stores)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infra.access_log import AccessLog, AccessLogFilters, Disclosure, ReadRequest
from infra.bootstrap import Services


def request(n: int) -> ReadRequest:
    return ReadRequest(f"agent-{n}", "agent", uuid.uuid4(), "GET /complaints/{id}", f"r{n}", None)


def disclosure() -> list[Disclosure]:
    return [Disclosure(uuid.uuid4(), "CUST-1", frozenset({"customer.name"}))]


def test_concurrent_answers_share_transactions_and_each_returns_committed(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AccessLog(services.read_models)
    batches: list[int] = []
    write = log._write
    gate = threading.Event()

    def counted(batch: Any) -> None:
        gate.wait(5)  # the first batch waits, so the others queue behind it
        batches.append(len(batch))
        write(batch)

    monkeypatch.setattr(log, "_write", counted)
    with ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(log.append, request(n), disclosure()) for n in range(64)]
        threading.Timer(0.3, gate.set).start()
        for future in futures:
            future.result(timeout=30)  # returned: its entry is committed (read below)

    assert sum(batches) == 64
    assert len(batches) < 64  # batched: fewer transactions than answers
    page = log.entries(AccessLogFilters(), limit=200)
    assert len(page.items) == 64


def test_a_failed_batch_fails_every_answer_in_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AccessLog(services.read_models)

    def broken(batch: Any) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(log, "_write", broken)
    futures = [log.submit(request(n), disclosure()) for n in range(5)]
    for future in futures:
        with pytest.raises(RuntimeError, match="database gone"):
            future.result(timeout=10)
    monkeypatch.undo()
    log.append(request(9), disclosure())  # the writer recovers
    assert len(log.entries(AccessLogFilters()).items) == 1


@pytest.mark.parametrize("rows", [1, 199, 250])  # PostgreSQL: arrays below 200 rows, COPY from 200
def test_entries_are_stored_as_given_in_small_and_large_batches(
    services: Services, rows: int
) -> None:
    log = AccessLog(services.read_models)
    asked = ReadRequest("agent-7", "agent", uuid.uuid4(), "GET /complaints", "r7", "audit 42")
    shown = [
        Disclosure(uuid.uuid4(), f"CUST-{n}" if n % 2 else None, frozenset({"customer.name"}))
        for n in range(rows)
    ]
    log.append(asked, shown)

    entries, cursor = [], None
    while True:
        page = log.entries(AccessLogFilters(), limit=200, cursor=cursor)
        entries += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert len(entries) == rows
    assert len({e.id for e in entries}) == rows  # each entry its own row
    stored = {entry.complaint_id: entry for entry in entries}
    for d in shown:
        entry = stored[d.complaint_id]
        assert (entry.customer_id, entry.fields) == (d.customer_id, sorted(d.fields))
        assert (entry.principal, entry.role, entry.token_id) == ("agent-7", "agent", asked.token_id)
        assert (entry.route, entry.request_id) == ("GET /complaints", "r7")
        assert entry.purpose == "audit 42"
