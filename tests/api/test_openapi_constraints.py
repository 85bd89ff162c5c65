"""The OpenAPI document states the rules requests are checked against (schemathesis reported
schema-valid requests being refused: patterns, formats and enums missing from the schema)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.bootstrap import bootstrap
from infra.settings import Settings
from tests.intake import intake

# Opaque tokens only the API itself makes: no pattern can say which ones it issued.
OPAQUE = {"cursor"}


@pytest.fixture
def openapi(tmp_path: Path) -> dict[str, Any]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", events_max_page=321)
    with bootstrap(settings) as services:
        return create_app(services).openapi()


def operations(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in openapi["paths"].items()
        for method, operation in methods.items()
    ]


def string_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"]


def states_a_rule(schema: dict[str, Any]) -> bool:
    return any(k in schema for k in ("pattern", "format", "enum", "const", "allOf"))


def test_every_header_states_its_format_and_is_never_null(openapi: dict[str, Any]) -> None:
    for name, operation in operations(openapi):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "header" or parameter["name"] == "authorization":
                continue
            schema = parameter["schema"]
            assert schema.get("type") == "string" and "pattern" in schema, (name, parameter)


def test_every_path_and_text_query_parameter_states_its_rule(openapi: dict[str, Any]) -> None:
    for name, operation in operations(openapi):
        for parameter in operation.get("parameters", []):
            if parameter["in"] not in {"path", "query"} or parameter["name"] in OPAQUE:
                continue
            schema = parameter["schema"]
            texts = string_schemas(schema) or string_schemas(schema.get("items", {}))
            for text in texts:
                assert states_a_rule(text), (name, parameter["name"])


def body_strings(openapi: dict[str, Any], schema: dict[str, Any], where: str) -> list[tuple]:
    """Every string schema reachable from a request body schema, with where it is."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return body_strings(openapi, openapi["components"]["schemas"][name], name)
    found: list[tuple] = []
    for option in schema.get("anyOf", []):
        found += body_strings(openapi, option, where)
    if schema.get("type") == "string":
        found.append((where, schema))
    for key, value in schema.get("properties", {}).items():
        found += body_strings(openapi, value, f"{where}.{key}")
    if "items" in schema:
        found += body_strings(openapi, schema["items"], f"{where}[]")
    return found


def test_every_text_field_of_a_request_body_states_its_rule(openapi: dict[str, Any]) -> None:
    bodies = [
        operation["requestBody"]["content"]["application/json"]["schema"]
        for _, operation in operations(openapi)
        if "requestBody" in operation
    ]
    assert bodies
    for body in bodies:
        for where, schema in body_strings(openapi, body, "body"):
            assert states_a_rule(schema), where


def test_a_customer_is_documented_as_needing_a_phone_or_an_email(
    openapi: dict[str, Any],
) -> None:
    customer = openapi["components"]["schemas"]["Customer"]
    assert [branch["required"] for branch in customer["anyOf"]] == [["phone"], ["email"]]


def test_the_events_page_limit_is_the_deployments_setting(openapi: dict[str, Any]) -> None:
    (limit,) = [p for p in openapi["paths"]["/events"]["get"]["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["maximum"] == 321


@pytest.mark.parametrize(
    "if_match",
    ['"1"', 'W/"1"', "1", "*", '"2"', '"-1"', "abc", '"1", "2"', '"1234567890123456789"'],
)
def test_if_match_is_refused_exactly_when_its_documented_pattern_says_so(
    client: TestClient, if_match: str
) -> None:
    complaint = client.post("/complaints", json=intake()).json()
    pattern = next(
        p["schema"]["pattern"]
        for p in client.get("/openapi.json").json()["paths"]["/complaints/{complaint_id}/assign"][
            "post"]["parameters"]
        if p["name"] == "If-Match"
    )
    answer = client.post(
        f"/complaints/{complaint['id']}/assign", json={"assignee": "bob"},
        headers={"If-Match": if_match},
    )
    assert (answer.status_code != 400) == bool(re.search(pattern, if_match)), answer.json()
