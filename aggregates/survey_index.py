"""Index from a satisfaction survey's token to its complaint (the survey link carries only the
token). Saved with the ``SurveyRequested`` event, like ``aggregates/reference.py``'s index."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


class SurveyIndex(Aggregate):
    class Registered(Aggregate.Created):
        complaint_id: UUID

    def __init__(self, complaint_id: UUID) -> None:
        self.complaint_id = complaint_id

    @classmethod
    def register(cls, token: str, complaint_id: UUID) -> SurveyIndex:
        return cls._create(cls.Registered, id=survey_index_id(token), complaint_id=complaint_id)


def survey_index_id(token: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/complaint-surveys/{token}")
