"""GET /metrics after a scenario: the counted figures (requests, commands by outcome, batches)
and the ones read from the store (head, projection lag, webhooks, relay, SLA) moved by exactly
what the scenario did. Parsed with prometheus-client's own parser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from aggregates.vocabulary import Role
from api.app import create_app
from commands.context import CommandContext
from commands.errors import ConcurrencyConflictError
from commands.models import AssignComplaint, FileComplaint
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from queries.sla import sla_backlog
from stream.relay import RelayPositions
from tests.api.database_away import database_away
from tests.intake import intake

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.metrics_cache_seconds = 0  # each scrape reads the store again
    return settings


def scrape(client: TestClient) -> Samples:
    service = client.tokens[Role.SERVICE]  # type: ignore[attr-defined]
    response = client.get("/metrics", headers={"Authorization": f"Bearer {service}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_what_a_scenario_did(
    client: TestClient, services: Services, ctx: CommandContext
) -> None:
    before = scrape(client)
    filed = client.post("/complaints", json=intake())
    assert filed.status_code == 201
    cid = filed.json()["id"]
    assign = f"/complaints/{cid}/assign"
    body = {"assignee": "bob", "team": "east"}
    version = {"If-Match": filed.headers["ETag"]}
    assert client.post(assign, json=body, headers=version).status_code == 200
    assert client.post(assign, json=body, headers=version).status_code == 412
    assert client.post(f"/complaints/{cid}/reopen", json={"reason": "x"}).status_code == 409
    keyed = {"Idempotency-Key": "metrics-test"}
    assert client.post("/complaints", json=intake(), headers=keyed).status_code == 201
    assert client.post("/complaints", json=intake(), headers=keyed).status_code == 201
    assert client.get("/complaints/not-a-uuid").status_code == 404
    # A writer that loses a race: the store refuses the version (as another process's save).
    with losing_the_race(services):
        with pytest.raises(ConcurrencyConflictError):
            services.app.handle(UUID(cid), AssignComplaint(assignee="carol", team="east"), ctx)
    RelayPositions(services.app).set("nats", 2)
    subscription = services.webhook_store.add(
        url="https://example.com/hook", types=[], secret="s" * 32, position=0, created_by="t"
    )
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    commands = "complaints_commands_total"
    assert moved(commands, command="FileComplaint", outcome="ok") == 2
    assert moved(commands, command="FileComplaint", outcome="replayed") == 1
    assert moved(commands, command="AssignComplaint", outcome="ok") == 1
    assert moved(commands, command="AssignComplaint", outcome="precondition_failed") == 1
    assert moved(commands, command="AssignComplaint", outcome="conflict") == 1
    assert moved(commands, command="ReopenComplaint", outcome="rejected") == 1
    assert moved("complaints_command_duration_seconds_count", command="AssignComplaint") == 3

    requests = "complaints_http_requests_total"
    route = "/complaints/{complaint_id}/assign"
    assert moved(requests, method="POST", route=route, status="200") == 1
    assert moved(requests, method="POST", route=route, status="412") == 1
    assert moved(requests, method="POST", route="/complaints", status="201") == 3
    assert moved(requests, method="GET", route="/complaints/{complaint_id}", status="404") == 1
    # Route templates, never raw paths: no label names the complaint.
    assert not any(cid in v for (_, label_set) in after for (_, v) in label_set)
    assert moved("complaints_http_request_duration_seconds_count", method="POST", route=route) == 2

    head = services.app.recorder.max_notification_id()
    assert value(after, "complaints_event_store_head_position") == head
    assert value(after, "complaints_store_up") == 1
    lag = "complaints_projection_lag_events"
    assert value(after, lag, projection="complaint_list") == head  # no runner in this process
    assert value(after, "complaints_projection_position", projection="complaint_list") == 0
    assert value(after, "complaints_relay_position", relay="nats") == 2
    assert value(after, "complaints_relay_lag_events", relay="nats") == head - 2
    hook = subscription.id
    assert value(after, "complaints_webhook_backlog_events", subscription=hook) == head
    assert value(after, "complaints_webhook_paused", subscription=hook) == 0

    services.runner().catch_up()
    caught_up = scrape(client)
    assert value(caught_up, lag, projection="complaint_list") == 0
    assert value(caught_up, "complaints_projection_lag_seconds", projection="sla") == 0
    batches = "complaints_projection_batch_events_sum"
    assert value(caught_up, batches, projection="complaint_list") > 0
    # Two filings with SLA clocks (first response, resolution), none overdue yet.
    assert value(caught_up, "complaints_sla_deadlines_pending") >= 2
    assert value(caught_up, "complaints_sla_deadlines_overdue") == 0


class losing_the_race:  # noqa: N801 (a context manager read as a phrase)
    """The next save fails as a save that lost a race to another writer does."""

    def __init__(self, services: Services) -> None:
        self.writer = services.app.writer
        self.save = self.writer.save

    def __enter__(self) -> None:
        def lost(*objs: Any) -> Any:
            self.writer.save = self.save  # type: ignore[method-assign]
            raise IntegrityError("duplicate key")

        self.writer.save = lost  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        self.writer.save = self.save  # type: ignore[method-assign]


def test_metrics_need_a_service_or_admin_token(client: TestClient) -> None:
    assert client.get("/metrics", headers={"Authorization": ""}).status_code == 401
    agent = client.tokens[Role.AGENT]  # type: ignore[attr-defined]
    assert client.get("/metrics", headers={"Authorization": f"Bearer {agent}"}).status_code == 403
    admin = client.tokens[Role.ADMIN]  # type: ignore[attr-defined]
    assert client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).status_code == 200


@pytest.fixture
def unmetered(settings: Settings) -> Iterator[TestClient]:
    settings.metrics_enabled = False
    with bootstrap(settings) as services, TestClient(create_app(services)) as client:
        token = services.app.tokens.issue("root", "admin", CommandContext("t", "admin", "c"))
        client.headers["Authorization"] = f"Bearer {token.secret}"
        yield client


def test_metrics_switched_off_answer_404(unmetered: TestClient) -> None:
    assert unmetered.get("/metrics").status_code == 404


def test_a_scrape_while_the_database_is_away_says_so_and_keeps_the_counts(
    client: TestClient, services: Services
) -> None:
    assert client.post("/complaints", json=intake()).status_code == 201
    scrape(client)  # the scraper's token is now cached: no database needed to accept it
    with database_away(services):
        away = scrape(client)
    assert value(away, "complaints_store_up") == 0
    assert "complaints_event_store_head_position" not in {name for name, _ in away}
    assert value(away, "complaints_commands_total", command="FileComplaint", outcome="ok") == 1
    assert value(scrape(client), "complaints_store_up") == 1


def test_the_sla_backlog_counts_overdue_clocks_and_their_lateness(
    services: Services, ctx: CommandContext
) -> None:
    services.app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    services.runner().catch_up()
    now = datetime.now(UTC)
    assert sla_backlog(services.read_models, now).overdue == 0
    later = sla_backlog(services.read_models, now + timedelta(days=400))
    assert later.overdue == later.pending == 2  # first response and resolution
    assert later.oldest_overdue_seconds > 300 * 86400
