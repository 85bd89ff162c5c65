"""Issue 14's tracing: with OpenTelemetry configured, an HTTP request is a server span continuing
the caller's trace and its command a child span, both carrying the correlation id; without it,
nothing imports OpenTelemetry."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aggregates.vocabulary import Role
from api.app import create_app
from infra.bootstrap import Services
from infra.tracing import Tracing, wanted
from tests.intake import intake

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_a_command_over_http_is_a_server_span_with_a_command_span_inside(
    services: Services, role_tokens: dict[Role, str]
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    services.tracing = Tracing(provider.get_tracer("test"), provider)
    services.app.tracer = services.tracing
    headers = {
        "Authorization": f"Bearer {role_tokens[Role.AGENT]}",
        "traceparent": TRACEPARENT,
        "X-Correlation-ID": "flow-7",
    }
    with TestClient(create_app(services)) as http:
        filed = http.post("/complaints", json=intake(), headers=headers)
    assert filed.status_code == 201

    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert {"POST /complaints", "command FileComplaint"} <= set(spans)
    server, command = spans["POST /complaints"], spans["command FileComplaint"]
    assert format(server.context.trace_id, "032x") == TRACE_ID  # the caller's trace
    assert command.context.trace_id == server.context.trace_id
    assert server.attributes is not None and command.attributes is not None
    assert server.attributes["http.route"] == "/complaints"
    assert server.attributes["http.response.status_code"] == 201
    assert server.attributes["complaints.request_id"] == filed.headers["X-Request-ID"]
    assert server.attributes["complaints.correlation_id"] == "flow-7"
    assert command.attributes["complaints.correlation_id"] == "flow-7"
    assert command.attributes["complaints.request_id"] == filed.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "ledger"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_only_the_otel_variables_turn_tracing_on(environ: dict[str, str], on: bool) -> None:
    assert wanted(environ) is on


def test_without_otel_variables_no_sdk_is_loaded_and_no_provider_set() -> None:
    """FastAPI itself imports ``opentelemetry-api`` (it depends on it) and opens spans only once
    a provider is set; so tracing off means: the SDK never loaded, the global provider left
    unset."""
    program = (
        "import os, sys\n"
        "import api.cli, api.app\n"
        "from infra.tracing import tracing_from_environment\n"
        "from opentelemetry import trace\n"
        "assert tracing_from_environment(os.environ) is None\n"
        "assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider'\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')))\n"
    )
    environ = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    found = subprocess.run(
        [sys.executable, "-c", program], env=environ, capture_output=True, text=True, timeout=60
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"
