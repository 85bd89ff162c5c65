"""Every HTTP request gets an id, one access-log line when it is answered, and its count and
time in the metrics (``infra/metrics.py``), when they are on.

The request id is ``X-Request-ID`` when the client sent a valid one (1-200 visible ASCII
characters), else a new one; it is answered in ``X-Request-ID``, recorded as the events' cause
(``api/deps.py``) and carried by every log line written during the request (``infra/logs.py``).
The access line names the route template (``/complaints/{complaint_id}``), never the path or
query string, which may hold personal data (a customer id, a search for a name).

A plain ASGI middleware, like ``BodySizeLimit``: Starlette's ``BaseHTTPMiddleware`` costs a task
and a stream per request. The log and the metrics are one layer, not two: both wrap ``send`` for
the status and read the route and the time at the end (docs/performance.md, "Request CPU,
session 22").
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.logs import RequestFields, current_request
from infra.metrics import UNMATCHED, Metrics
from infra.tracing import Tracing

log = logging.getLogger("complaints.access")

_HEADER_VALUE = re.compile(r"[\x21-\x7e]{1,200}")


def _valid(value: str | None) -> str | None:
    return value if value is not None and _HEADER_VALUE.fullmatch(value) else None


def current_request_id() -> str:
    """The id the current request is logged under (a new one outside a request)."""
    fields = current_request.get()
    return fields.request_id if fields is not None else uuid.uuid4().hex


class RequestLog:
    """Also labels the request's trace span with its ids, when tracing is on
    (``infra/tracing.py``), and counts and times every request by method, route template and
    status, when metrics are on. The route is known only once routing ran: the router writes it
    into the scope."""

    def __init__(
        self, app: ASGIApp, tracing: Tracing | None = None, metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.tracing = tracing
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        request_id = _valid(headers.get("x-request-id")) or uuid.uuid4().hex
        fields = RequestFields(
            request_id=request_id,
            correlation_id=_valid(headers.get("x-correlation-id")) or request_id,
            method=scope["method"],
        )
        if self.tracing is not None:
            self.tracing.annotate_request(request_id, fields.correlation_id)
        token = current_request.set(fields)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                fields.status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            fields.status = fields.status or 500
            raise
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None)
            fields.route = route or "(unmatched)"
            fields.duration_ms = round(seconds * 1000, 3)
            log.info("%s %s %s", fields.method, fields.route, fields.status)
            current_request.reset(token)
            if self.metrics is not None:
                # 500: what the client gets when the application fails before answering.
                self.metrics.request_done(
                    scope["method"], route or UNMATCHED, fields.status or 500, seconds
                )
