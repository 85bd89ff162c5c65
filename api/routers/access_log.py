"""GET /audit/access-log: who was shown which customer's personal data, when and why.

Read-only: entries are written by the read routes (``api/disclosure.py``) and nobody changes or
deletes them through the API. Reading the log is not itself logged: it holds no personal field
(the customer id stays in clear everywhere, as it does in lists and analytics).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import WithJsonSchema

from api.deps import permit
from api.json_body import json_body
from api.problems import problem_responses
from api.read_models import invalid
from commands.input_types import SINGLE_LINE, PlausibleInstant
from infra.access_log import AccessLog, AccessLogFilters, AccessLogPage
from queries.errors import InvalidQueryError

router = APIRouter(prefix="/audit", tags=["audit"])

Text = Annotated[Annotated[str, SINGLE_LINE] | None, Query(min_length=1, max_length=200)]


@router.get(
    "/access-log",
    response_model=AccessLogPage,
    dependencies=[permit("audit.access_log")],
    responses=problem_responses({403: "Not allowed to your role"}),
)
def access_log(
    request: Request,
    customer_id: Text = None,
    complaint_id: Annotated[
        str | None, WithJsonSchema({"type": "string", "format": "uuid"}), Query(max_length=100)
    ] = None,
    principal: Text = None,
    from_: Annotated[
        PlausibleInstant | None, Query(alias="from", description="At or after this instant")
    ] = None,
    to: Annotated[PlausibleInstant | None, Query(description="Before this instant")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
) -> Response:
    """Entries newest first, filtered by every parameter given (AND)."""
    log: AccessLog = request.app.state.access_log
    try:
        filters = AccessLogFilters(
            customer_id=customer_id,
            complaint_id=_uuid(complaint_id),
            principal=principal,
            from_=from_,
            to=to,
        )
        return json_body(log.entries(filters, limit=limit, cursor=cursor))
    except InvalidQueryError as e:
        raise invalid(e) from None


def _uuid(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidQueryError("complaint_id", "must be a UUID") from None
