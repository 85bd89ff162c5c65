"""OpenTelemetry spans for HTTP requests and commands, when installed and configured.

Off unless both: the optional extra is installed (``uv sync --extra otel``, or ``pip install
complaint-ledger[otel]``) and the standard variables ask for an exporter (``OTEL_TRACES_EXPORTER``
other than ``none``, or an ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``..._TRACES_ENDPOINT``), and
``OTEL_SDK_DISABLED`` is not true. Everything else (service name, resource attributes, the OTLP
endpoint, headers, sampling, batching) is read by the SDK itself from its ``OTEL_*`` variables.
When off, nothing here imports OpenTelemetry's SDK and each request and command pays one
``None`` check or one ``nullcontext``.

Spans: FastAPI's own per HTTP request (kind server, continuing a ``traceparent`` the caller sent,
named by the route template; its OpenTelemetry logs are off: they carry refused input values),
to which ``api/request_log.py`` adds the request and correlation ids, and ours per command inside
it (``command AssignComplaint``), with the same ids: the correlation id is what the events record,
so a trace can be found from an event and the other way round.

FastAPI itself depends on ``opentelemetry-api`` and imports it; without a configured provider it
opens no span. The SDK and the OTLP exporter come only with the extra.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from commands.context import CommandContext

log = logging.getLogger(__name__)

_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces (without importing anything)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return any(environ.get(name) for name in _OTLP_ENDPOINTS)


class Tracing:
    """Opens the command spans and labels FastAPI's request spans, with a tracer of a
    configured provider; ``close`` flushes what is not exported yet."""

    def __init__(self, tracer: Any, provider: Any = None) -> None:
        from opentelemetry import trace

        self._tracer = tracer
        self.provider = provider
        """The SDK's ``TracerProvider`` (FastAPI's request spans go to it, ``api/app.py``)."""
        self._trace = trace

    @contextmanager
    def command_span(self, command: object, ctx: CommandContext) -> Iterator[object]:
        attributes = {
            "complaints.command": type(command).__name__,
            "complaints.correlation_id": ctx.correlation_id,
            "complaints.request_id": ctx.causation_id or "",
        }
        with self._tracer.start_as_current_span(
            f"command {type(command).__name__}", attributes=attributes
        ) as span:
            yield span

    def annotate_request(self, request_id: str, correlation_id: str) -> None:
        """Adds the ids to the request's span (FastAPI's own, current while the request runs)."""
        span = self._trace.get_current_span()
        span.set_attribute("complaints.request_id", request_id)
        span.set_attribute("complaints.correlation_id", correlation_id)

    def close(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()  # exports what the batch processor still holds


def tracing_from_environment(environ: Mapping[str, str]) -> Tracing | None:
    """The process's tracing as the ``OTEL_*`` variables configure it, or None (off)."""
    if not wanted(environ):
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        log.warning("OTEL_* variables ask for traces, but OpenTelemetry is not installed "
                    "(install the otel extra); tracing is off")
        return None
    named = environ.get("OTEL_SERVICE_NAME") or "service.name" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {"service.name": "complaint-ledger"})
    provider = TracerProvider(resource=resource)
    names = environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")
    for name in (n.strip() for n in names):
        if name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
            except ImportError:
                log.warning("OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-"
                            "http (the otel extra); spans are not exported")
                continue
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name != "none":
            log.warning("unknown OTEL_TRACES_EXPORTER %r ignored", name)
    trace.set_tracer_provider(provider)  # so that other instrumentation joins the same traces
    return Tracing(provider.get_tracer("complaint-ledger"), provider)
