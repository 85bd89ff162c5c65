"""``GET /complaints/{id}/dossier``: the case file, as JSON or a printable HTML page."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from aggregates.vocabulary import Role
from api.blocking import in_thread
from api.deps import AppDep, Principal, require_role
from api.dossier_html import render_dossier
from api.problems import problem_responses
from api.routers.complaints import ComplaintId, parse_id
from queries.dossier import Dossier, get_dossier

router = APIRouter(prefix="/complaints", tags=["complaints"])
# The permission lane re-wires this at merge (api/deps.py's matrix).
REVIEWERS: Any = require_role(Role.COMPLIANCE, Role.SUPERVISOR)


@router.get(
    "/{complaint_id}/dossier",
    response_model=Dossier,
    responses=problem_responses(
        {
            401: "Missing or invalid token",
            403: "Not allowed to your role",
            404: "Unknown complaint",
        }
    )
    | {200: {"content": {"text/html": {}}}},
)
async def dossier(
    complaint_id: ComplaintId,
    app: AppDep,
    request: Request,
    principal: Annotated[Principal, REVIEWERS],
    format: Annotated[
        Literal["json", "html"] | None,
        Query(description="json or html; default: from Accept (text/html gets the page)"),
    ] = None,
) -> Response:
    """The complaint's complete case file: intake, every event with actor, time, correlation
    and causation ids, SLA clocks, whether its hash chain verifies, when and for whom it was
    made."""
    made = await in_thread(get_dossier, app, parse_id(complaint_id), principal.name)
    wanted = format or ("html" if "text/html" in request.headers.get("accept", "") else "json")
    if wanted == "html":
        return HTMLResponse(render_dossier(made))
    return Response(made.model_dump_json(), media_type="application/json")
