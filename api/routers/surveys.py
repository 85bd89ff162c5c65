"""The satisfaction survey a close issues (issue 12): answered once, with its token, no login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import AppDep, permit
from api.problems import problem_responses
from api.routers.tracking import customer_context
from commands.models import AnswerSurvey

router = APIRouter(prefix="/surveys", tags=["surveys"])


@router.post(
    "/{token}",
    status_code=201,
    response_model=AnswerSurvey,
    responses=problem_responses(
        {
            400: "Malformed JSON",
            404: "Unknown, superseded or expired survey",
            409: "The survey was already answered",
            422: "Invalid field",
        }
    ),
    dependencies=[permit("survey.answer")],
)
async def answer_survey(
    token: Annotated[
        str,
        Path(
            description="The token the survey link carries",
            json_schema_extra={"pattern": "^[A-Za-z0-9_-]{1,100}$"},
        ),
    ],
    answer: AnswerSurvey,
    app: AppDep,
) -> Response:
    """``{"csat": 1-5, "nps": 0-10, "comment"}``, once per token."""
    await app.answer_survey_async(token, answer, customer_context(None, None))
    return Response(answer.model_dump_json(), status_code=201, media_type="application/json")
