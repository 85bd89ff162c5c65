"""Liveness tells anyone only that the process is up; readiness (with a token) shows the head."""

from __future__ import annotations

from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from tests.intake import intake


def test_liveness_needs_no_token_and_shows_no_business_figures(client: TestClient) -> None:
    response = client.get("/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_needs_a_token(client: TestClient) -> None:
    response = client.get("/health/ready", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_readiness_shows_the_head_of_the_log(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    result = app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    response = client.get("/health/ready")
    assert response.status_code == 200
    head = response.json()["head"]
    assert result.position is not None and head >= result.position
    assert response.json() == {"status": "ready", "head": app.recorder.max_notification_id()}
