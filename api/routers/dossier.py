"""``GET /complaints/{id}/dossier``: the case file, as JSON or a printable HTML page."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.blocking import in_thread
from api.deps import AppDep, permit
from api.disclosure import Reader, ReaderDep, holding_of
from api.dossier_html import render_dossier
from api.problems import problem_responses
from api.routers.complaints import ComplaintId, parse_id
from commands.application import ComplaintsApp
from commands.permissions import authorize
from queries.disclosure import COMPLAINT, disclose, withheld
from queries.dossier import Dossier, get_dossier
from queries.history import History
from queries.story import tell

router = APIRouter(prefix="/complaints", tags=["complaints"])


@router.get(
    "/{complaint_id}/dossier",
    response_model=Dossier,
    dependencies=[permit("dossier.read")],
    responses=problem_responses(
        {
            401: "Missing or invalid token",
            403: "Not allowed to your role",
            404: "Unknown complaint",
            500: "A stored event does not decode (undecodable-event, with the chain's breaks)",
        }
    )
    | {200: {"content": {"text/html": {}}}},
)
async def dossier(
    complaint_id: ComplaintId,
    app: AppDep,
    request: Request,
    reader: ReaderDep,
    format: Annotated[
        Literal["json", "html"] | None,
        Query(description="json or html; default: from Accept (text/html gets the page)"),
    ] = None,
) -> Response:
    """The complaint's complete case file: intake, every event with actor, time, correlation
    and causation ids, SLA clocks, whether its hash chain verifies, when and for whom it was
    made."""
    made = await in_thread(shown_dossier, app, parse_id(complaint_id), reader)
    wanted = format or ("html" if "text/html" in request.headers.get("accept", "") else "json")
    if wanted == "html":
        return HTMLResponse(render_dossier(made))
    return Response(made.model_dump_json(), media_type="application/json")


def shown_dossier(app: ComplaintsApp, complaint_id: UUID, reader: Reader) -> Dossier:
    """The dossier as ``reader`` may see it; the personal fields it shows in clear are written
    to the access log (one entry, from its events, which hold every such field) before it is
    returned, like any other read."""
    # The dossier first: an event that does not decode is then reported by version and with
    # the chain's breaks (``UndecodableEventError``), not by the repository's bare error.
    made = get_dossier(app, complaint_id, reader.principal.name)
    current = app.get_complaint(complaint_id)
    authorize("dossier.read", reader.principal.actor, current)
    holding = holding_of(current)
    history = reader.history(
        History(
            complaint_id=made.complaint_id,
            reference=made.reference,
            events=made.events,
            chain_verified=made.chain_verified,
            chain_breaks=made.chain_breaks,
        ),
        holding,
    )
    complaint, _ = disclose(made.complaint, COMPLAINT, withheld(reader.viewer, holding))
    return made.model_copy(
        update={
            "complaint": complaint,
            "events": history.events,
            "intake": history.events[0].data,
            "story": tell(history),  # told again from the events as this reader sees them
        }
    )
