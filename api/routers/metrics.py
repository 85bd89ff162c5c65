"""GET /metrics: the Prometheus text format (``infra/metrics.py``; catalogue in
docs/operations.md). On the API port it needs a token of the service or admin role (a scraper
sends it as ``authorization: {credentials: ...}``); workers answer on a port of their own
(``--metrics-port``) without one. 404 when ``COMPLAINTS_METRICS_ENABLED`` is false."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import permit
from api.problems import ProblemError
from infra.metrics import CONTENT_TYPE, Metrics

router = APIRouter(tags=["operations"])
PROBLEM = "application/problem+json"


@router.get(
    "/metrics",
    dependencies=[permit("metrics.read")],
    response_class=Response,
    responses={
        200: {"description": "Prometheus text format", "content": {CONTENT_TYPE: {}}},
        404: {"description": "Metrics are switched off", "content": {PROBLEM: {}}},
    },
)
async def metrics(request: Request) -> Response:
    """Counts and positions only: requests, commands, batches, deliveries, lag (no business
    figures). Figures read from the database are at most COMPLAINTS_METRICS_CACHE_SECONDS old."""
    found: Metrics | None = request.app.state.metrics
    if found is None:
        raise ProblemError(404, "not-found", "Not found", "metrics are switched off")
    # The scrape-time figures query the database: off the event loop.
    body = await run_in_threadpool(found.exposition)
    return Response(body, media_type=CONTENT_TYPE)
