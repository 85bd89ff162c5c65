"""Request dependencies of the read side: the read-model store and read-your-writes waiting."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from api.deps import PrincipalDep
from api.problems import ProblemError
from infra.settings import Settings
from projections.position_watcher import PositionWatcher
from projections.store import ReadModelStore
from queries.errors import (
    InvalidQueryError,
    PositionBeyondHeadError,
    ProjectionBehindError,
    TooManyWaitersError,
)
from queries.read_after_write import wait_for_position


async def get_store(request: Request) -> ReadModelStore:
    """The API's read-model store (built, its tables created, by ``infra/bootstrap.py``)."""
    return request.app.state.read_models  # type: ignore[no-any-return]


StoreDep = Annotated[ReadModelStore, Depends(get_store)]

MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        description="Wait (bounded) until the view has processed this event-store position, "
        "e.g. the `position` a command returned. 422 if it is beyond the store's head; 429 with "
        "Retry-After if too many requests are waiting already; 503 with Retry-After if the view "
        "does not catch up in time.",
    ),
]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def watcher_of(request: Request) -> PositionWatcher:
    """The API's position watcher (its thread runs only while someone waits)."""
    return request.app.state.position_watcher  # type: ignore[no-any-return]


def waits_for(view: str) -> Any:
    """A dependency: given ``?min_position=N``, wait until ``view`` has processed N.

    A dependency rather than a call in the route: routes are plain functions run in worker
    threads, and a wait there held a thread for up to ``read_wait_seconds`` (60 waits starved
    every other request). This one awaits on the event loop and holds no thread.
    """

    async def caught_up(
        request: Request, _: PrincipalDep, min_position: MinPosition = None
    ) -> None:
        settings = settings_of(request)
        try:
            await wait_for_position(
                watcher_of(request), view, min_position,
                timeout=settings.read_wait_seconds, max_waiters=settings.read_wait_max_waiters,
            )
        except PositionBeyondHeadError as beyond:
            raise invalid(beyond, head=beyond.head) from None
        except TooManyWaitersError as crowded:
            raise ProblemError(
                429, "too-many-waiters", "Too many waiting reads", str(crowded),
                headers={"Retry-After": "1"},
            ) from None
        except ProjectionBehindError as behind:
            raise ProblemError(
                503, "projection-behind", "View not caught up yet", str(behind),
                headers={"Retry-After": str(max(1, math.ceil(settings.read_wait_seconds)))},
                position=behind.position, min_position=behind.wanted,
            ) from None

    return Depends(caught_up)


def invalid(error: InvalidQueryError, **extra: Any) -> ProblemError:
    return ProblemError(
        422, "validation", "Invalid request", str(error),
        errors=[{"field": error.field, "reason": error.reason}], **extra,
    )
