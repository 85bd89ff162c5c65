"""Issue 10's acceptance: a server killed (SIGKILL) in the middle of group-committed batches
loses no acknowledged command and acknowledges none that was not committed; the requests it
never answered, retried with their Idempotency-Key against a new server (the API in the test's
process: a second server process would only add its start-up time), are applied once.

32 clients file complaints and comment on them through a real `complaints serve` process until
at least 100 commands are acknowledged; then the process is killed while each client has a
request in flight, at whatever stage of the batching it is. Every command carries a unique text, so
the store's events can be counted against the answers. Both stores; only PostgreSQL can show
that the commands really shared transactions (rows one transaction wrote share its ``xmin``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx
import psycopg
from fastapi.testclient import TestClient

from aggregates.complaint import Complaint
from api.app import create_app
from commands.application import ComplaintsApp
from commands.context import CommandContext
from infra.bootstrap import bootstrap
from infra.settings import Settings
from tests.api.command_load import Ack, Sent, load_then
from tests.api.server_process import server_process
from tests.conftest import POSTGRES_URL

CLIENTS = 32
ACKS = 100


def test_a_kill_mid_batch_loses_no_acknowledged_command_and_retries_apply_once(
    settings: Settings, tmp_path: Path
) -> None:
    token = agent_token(settings)
    with server_process(settings, tmp_path) as server:
        ledger = asyncio.run(load_then(server.url, token, CLIENTS, ACKS, 5.0, server.kill))
        assert refuses_connections(server.url)  # the killed process was the only one serving
    assert len(ledger.acked) >= ACKS and not ledger.refused
    assert len(ledger.unanswered) == CLIENTS  # each client's last request
    acked = Counter(a.sent.text for a in ledger.acked)
    unanswered = Counter(s.text for s in ledger.unanswered)

    with bootstrap(settings) as services:
        for ack in ledger.acked:
            assert stored_as_acknowledged(services.app, ack)
        at_death = Counter(stored_texts(services.app))
    assert at_death & acked == acked  # nothing acknowledged is missing...
    assert at_death <= acked + unanswered  # ...and nothing is stored twice or unasked
    transactions = transactions_holding_events(settings)
    if transactions is not None:  # one per command (and one for the token) without batching
        assert transactions < at_death.total(), "no two commands shared a transaction"

    with bootstrap(settings) as services:  # a new server on the store: the API in this process
        with TestClient(create_app(services)) as http:
            retry(http, token, ledger.unanswered)
        assert Counter(stored_texts(services.app)) == acked + unanswered  # each exactly once


def agent_token(settings: Settings) -> str:
    ctx = CommandContext(principal="loader", role="supervisor", correlation_id="kill9")
    with bootstrap(settings) as services:
        return services.app.tokens.issue("loader", "agent", ctx).secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refuses_connections(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=2)
    except httpx.ConnectError:
        return True
    return False


def stored_as_acknowledged(app: ComplaintsApp, ack: Ack) -> bool:
    """The complaint exists at the acknowledged version, and that version holds the command."""
    complaint = app.get_complaint(UUID(ack.complaint_id), version=ack.version)
    if complaint.version != ack.version:
        return False
    if ack.sent.is_filing:
        return complaint.subject == ack.sent.text
    return complaint.comments[-1].body == ack.sent.text


def stored_texts(app: ComplaintsApp) -> list[str]:
    """The subject of every filing and the body of every comment in the store, in order."""
    texts: list[str] = []
    start = 1
    while notifications := app.recorder.select_notifications(start, limit=500):
        for notification in notifications:
            event = app.mapper.to_domain_event(notification)
            if isinstance(event, Complaint.Filed):
                texts.append(event.subject)
            elif isinstance(event, Complaint.Commented):
                texts.append(event.body)
        start = notifications[-1].id + 1
    return texts


def transactions_holding_events(settings: Settings) -> int | None:
    """How many transactions wrote the event rows (PostgreSQL); None on SQLite, which keeps no
    trace of which rows one transaction wrote."""
    if settings.database_url.startswith("sqlite"):
        return None
    schema = parse_qs(urlsplit(settings.database_url).query)["schema"][0]
    with psycopg.connect(POSTGRES_URL) as conn:
        query = f'SELECT count(DISTINCT xmin::text) FROM "{schema}".complaints_events'
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def retry(http: TestClient, token: str, unanswered: list[Sent]) -> None:
    """Each request again, same key and body: answered now, as a replay or applied for the
    first time (the store is counted afterwards)."""
    answers = [
        http.post(s.path, json=s.body, headers={"Idempotency-Key": s.key, **bearer(token)})
        for s in unanswered
    ]
    assert [a.status_code for a in answers if not a.is_success] == []
