"""Errors of the layers below the API are answered from one table (``api/problems.py``
``PROBLEMS``), with what each error carries: a field error names its field and reason, a stale
``If-Match`` the current version."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aggregates.errors import InvalidIntakeError
from api.problems import install_problem_handlers
from commands.errors import PreconditionFailedError
from queries.errors import InvalidQueryError, PositionBeyondHeadError


def answer_to(error: Exception) -> Any:
    api = FastAPI()
    install_problem_handlers(api)

    @api.get("/fails")
    def fails() -> None:
        raise error

    return TestClient(api, raise_server_exceptions=False).get("/fails")


@pytest.mark.parametrize(
    ("error", "field", "reason"),
    [
        (InvalidIntakeError("customer.tier", "must be one of ..."), "customer.tier",
         "must be one of ..."),
        (InvalidQueryError("cursor", "is not a cursor this endpoint issued"), "cursor",
         "is not a cursor this endpoint issued"),
        (PositionBeyondHeadError(9, 3), "min_position", PositionBeyondHeadError(9, 3).reason),
    ],
    ids=["intake", "query", "position-beyond-head"],
)
def test_a_field_error_is_422_naming_the_field_and_reason(
    error: Exception, field: str, reason: str
) -> None:
    response = answer_to(error)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation") and problem["title"] == "Invalid request"
    assert problem["errors"] == [{"field": field, "reason": reason}]
    assert problem["detail"] == f"{field}: {reason}"


def test_a_stale_if_match_is_412_with_the_current_version() -> None:
    response = answer_to(PreconditionFailedError(expected=2, actual=5))

    assert response.status_code == 412
    assert response.headers["etag"] == '"5"'
    problem = response.json()
    assert problem["type"].endswith("/precondition-failed") and problem["current_version"] == 5
    assert "errors" not in problem
