"""Probes: liveness and readiness answer anyone and tell no business figures; readiness flips
when the database goes away and comes back, and when a projection falls too far behind."""

from __future__ import annotations

from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import Services
from tests.api.database_away import database_away
from tests.intake import intake


def test_liveness_needs_no_token_and_shows_no_business_figures(client: TestClient) -> None:
    for path in ("/health", "/health/live"):
        response = client.get(path, headers={"Authorization": ""})
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_readiness_needs_no_token_and_shows_no_figures(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    response = client.get("/health/ready", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readiness_flips_when_the_database_goes_away_and_comes_back(
    client: TestClient, services: Services
) -> None:
    assert client.get("/health/ready").status_code == 200
    with database_away(services):
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json()["reason"] == "database-unreachable"
    assert client.get("/health/ready").status_code == 200


def test_readiness_flips_while_a_projection_lags(
    client: TestClient, services: Services, ctx: CommandContext
) -> None:
    services.settings.ready_max_lag_events = 0
    services.app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    response = client.get("/health/ready")
    assert response.status_code == 503 and response.json()["reason"] == "projection-lag"
    services.runner().catch_up()
    assert client.get("/health/ready").status_code == 200
