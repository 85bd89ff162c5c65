"""Request dependencies of the read side: the read-model store and read-your-writes waiting."""

from __future__ import annotations

import math
import threading
from typing import Annotated

from fastapi import Depends, Query, Request

from api.deps import AppDep
from api.problems import ProblemError
from infra.settings import Settings
from projections.registry import REGISTERED
from projections.store import ReadModelStore
from queries.errors import InvalidQueryError, ProjectionBehindError
from queries.read_after_write import wait_for_position

_lock = threading.Lock()


def get_store(request: Request, app: AppDep) -> ReadModelStore:
    """One store per API instance, its tables created on first use so that queries work even
    before any projection has run (they then answer with empty results)."""
    with _lock:
        store: ReadModelStore | None = getattr(request.app.state, "read_models", None)
        if store is None or store.app is not app:
            store = ReadModelStore(app)
            if settings_of(request).create_tables:
                store.create_tables([t for cls in REGISTERED for t in cls.tables])
            request.app.state.read_models = store
    return store


StoreDep = Annotated[ReadModelStore, Depends(get_store)]

MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        description="Wait (bounded) until the view has processed this event-store position, "
        "e.g. the `position` a command returned; 503 with Retry-After if it does not in time.",
    ),
]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def await_view(request: Request, store: ReadModelStore, view: str, position: int | None) -> None:
    try:
        wait_for_position(store, view, position, settings_of(request).read_wait_seconds)
    except ProjectionBehindError as behind:
        raise ProblemError(
            503, "projection-behind", "View not caught up yet", str(behind),
            headers={"Retry-After": str(max(1, math.ceil(settings_of(request).read_wait_seconds)))},
            position=behind.position, min_position=behind.wanted,
        ) from None


def invalid(error: InvalidQueryError) -> ProblemError:
    return ProblemError(
        422, "validation", "Invalid request", str(error),
        errors=[{"field": error.field, "reason": error.reason}],
    )
