"""What the OpenAPI document promises about errors holds (schemathesis conformance findings)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_every_operation_documents_its_4xx_as_problem_documents(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    assert list(response.get("content", {})) == ["application/problem+json"], (
                        method, path, status,
                    )


def test_a_405_names_every_method_the_path_serves(client: TestClient) -> None:
    for path, allowed in [
        ("/complaints", "GET, POST"),
        ("/complaints/00000000-0000-0000-0000-000000000000/assign", "POST"),
        ("/health", "GET"),
    ]:
        response = client.options(path)
        assert response.status_code == 405
        assert response.headers["allow"] == allowed, path
        assert response.headers["content-type"] == "application/problem+json"
