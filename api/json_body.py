"""Answers whose body is a pydantic model, serialised once.

A route that returns a model has FastAPI validate it again against its ``response_model`` and then
serialise it; returning the JSON as a ``Response`` skips the second validation (the route keeps
``response_model`` for the OpenAPI document).
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_body(model: BaseModel, headers: dict[str, str] | None = None) -> Response:
    return Response(model.model_dump_json(), media_type="application/json", headers=headers)
