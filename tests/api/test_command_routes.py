"""The five commands on one complaint are one route each, made by ``command_route``
(``api/routers/complaints.py``): each documents its own body model and keeps its operation id,
which generated clients name their methods after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from infra.bootstrap import bootstrap
from infra.settings import Settings

COMMANDS = [
    ("assign", "assign", "AssignComplaint"),
    ("comments", "comment", "CommentOnComplaint"),
    ("escalate", "escalate", "EscalateComplaint"),
    ("close", "close", "CloseComplaint"),
    ("reopen", "reopen", "ReopenComplaint"),
]


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path: Path = tmp_path_factory.mktemp("openapi") / "c.db"
    with bootstrap(Settings(database_url=f"sqlite:///{path}")) as services:
        return create_app(services).openapi()


@pytest.mark.parametrize(("action", "name", "model"), COMMANDS)
def test_a_command_route_documents_its_own_body_model(
    openapi: dict[str, Any], action: str, name: str, model: str
) -> None:
    operation = openapi["paths"][f"/complaints/{{complaint_id}}/{action}"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{model}"}
    assert operation["requestBody"]["required"] is True


@pytest.mark.parametrize(("action", "name", "model"), COMMANDS)
def test_a_command_route_keeps_its_operation_id(
    openapi: dict[str, Any], action: str, name: str, model: str
) -> None:
    operation = openapi["paths"][f"/complaints/{{complaint_id}}/{action}"]["post"]
    assert operation["operationId"] == f"{name}_complaints__complaint_id__{action}_post"
    assert operation["summary"] == name.title()


@pytest.mark.parametrize(("action", "name", "model"), COMMANDS)
def test_a_command_route_documents_its_problem_answers(
    openapi: dict[str, Any], action: str, name: str, model: str
) -> None:
    responses = openapi["paths"][f"/complaints/{{complaint_id}}/{action}"]["post"]["responses"]
    for status in ("400", "401", "404", "409", "412", "422"):
        assert list(responses[status]["content"]) == ["application/problem+json"]
        assert responses[status]["description"]
