"""The HTTP part of the metrics (``infra/metrics.py``): every request counted and timed."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.metrics import UNMATCHED, Metrics


class RequestMetrics:
    """Counts and times every HTTP request by method, route template and status. A plain ASGI
    middleware (as ``BodySizeLimit``): Starlette's ``BaseHTTPMiddleware`` costs a task per
    request. The route is known only once routing ran: the router writes it into the scope."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the application fails before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.request_done(
                scope["method"], route, status, time.perf_counter() - started
            )
