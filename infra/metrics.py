"""Prometheus metrics: the process's instruments, the figures read from the store at scrape time,
and the exposition (``GET /metrics``, or a worker's ``--metrics-port``). Catalogue:
docs/operations.md.

Two kinds of figures:

- **counted** where things happen: HTTP requests (by route template, never the raw path, so
  label values stay few), commands by type and outcome, projection batches, webhook deliveries.
  Lower layers report through ports with no-op defaults (``CommandObserver``, ``BatchObserver``,
  ``DeliveryObserver``); the composition root plugs ``Metrics`` into them. Under
  ``serve --workers N`` every process writes its counts to files in ``PROMETHEUS_MULTIPROC_DIR``
  (prometheus-client's multiprocess mode) and any worker's ``/metrics`` sums them.
- **read** from the database when scraped (``StoreCollector``): the log's head, each projection's
  position, lag and quarantined events, each webhook subscription's backlog and state, each
  relay's position, the SLA watcher's backlog. One set of queries per ``cache_seconds`` however
  many scrapers ask, and the same answer from every process (they read the same database).

Only counts, positions and ages: no complaint, customer or amount appears in a label or value.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from commands.application import ComplaintsApp
from projections.store import ReadModelStore
from queries.projection_status import projection_status
from queries.sla import sla_backlog
from stream.relay import RelayPositions
from stream.webhook_store import PAUSED, WebhookStore

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's own variable: set, every process writes its counts to files there."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of requests no route matched (404s, 405s, bodies refused before routing)."""
# Commands take milliseconds; an SSE stream or a long-poll read may take many seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class Metrics:
    """The instruments of one process, and the registry ``/metrics`` exposes. It is the
    ``CommandObserver``, ``BatchObserver`` and ``DeliveryObserver`` the lower layers report to."""

    def __init__(self, collector: StoreCollector | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            # Counts come from every process's files; the instruments below write this
            # process's file, so they must not be registered a second time.
            multiprocess.MultiProcessCollector(self.registry, path=directory)
            own: CollectorRegistry | None = CollectorRegistry()
        else:
            own = self.registry
        self.http_requests = Counter(
            "complaints_http_requests", "HTTP requests answered, by route template and status.",
            ["method", "route", "status"], registry=own,
        )
        self.http_duration = Histogram(
            "complaints_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=own,
        )
        self.commands = Counter(
            "complaints_commands", "Commands decided, by command type and outcome.",
            ["command", "outcome"], registry=own,
        )
        self.command_duration = Histogram(
            "complaints_command_duration_seconds",
            "Time from a command's decision to its answer (its commit awaited), by type.",
            ["command"], buckets=LATENCY_BUCKETS, registry=own,
        )
        self.projection_batches = Histogram(
            "complaints_projection_batch_events",
            "Events of the projection's topics per committed batch.",
            ["projection"], buckets=BATCH_BUCKETS, registry=own,
        )
        self.webhook_deliveries = Counter(
            "complaints_webhook_deliveries",
            "Webhook delivery attempts, by subscription and outcome.",
            ["subscription", "outcome"], registry=own,
        )
        if collector is not None:
            self.registry.register(collector)
        self._server: Any = None
        # Each label set's children, looked up without ``labels()``'s validation and lock: on
        # every request and command. As few entries as label sets (routes, commands, outcomes).
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._command_children: dict[tuple[str, str], tuple[Any, Any]] = {}

    # ---- the ports ---------------------------------------------------------------------------

    def command_done(self, command: str, outcome: str, seconds: float) -> None:
        key = (command, outcome)
        children = self._command_children.get(key)
        if children is None:
            children = self._command_children[key] = (
                self.commands.labels(command, outcome), self.command_duration.labels(command)
            )
        count, duration = children
        count.inc()
        duration.observe(seconds)

    def batch_applied(self, projection: str, events: int) -> None:
        self.projection_batches.labels(projection).observe(events)

    def delivered(self, subscription_id: str, *, succeeded: bool, manual: bool) -> None:
        outcome = "succeeded" if succeeded else "failed"
        if manual:
            outcome += "_manual"
        self.webhook_deliveries.labels(subscription_id, outcome).inc()

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            shown = method if method in METHODS else "other"
            children = self._request_children[key] = (
                self.http_requests.labels(shown, route, str(status)),
                self.http_duration.labels(shown, route),
            )
        count, duration = children
        count.inc()
        duration.observe(seconds)

    # ---- exposition --------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str) -> None:
        """Answers ``GET /metrics`` (any path, in fact) on ``host:port`` from a daemon thread: a
        worker's own port (``--metrics-port``), no token; bind it where only scrapers reach."""
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass(frozen=True)
class StoreSources:
    """Where the scrape-time figures come from (what ``bootstrap`` built)."""

    app: ComplaintsApp
    read_models: ReadModelStore
    webhooks: WebhookStore
    projections: Sequence[str]


class StoreCollector:
    """The figures read from the database at scrape time, reused for ``cache_seconds``. A
    database that does not answer costs the scrape nothing but ``complaints_store_up 0``."""

    def __init__(self, sources: StoreSources, cache_seconds: float = 1.0) -> None:
        self.sources = sources
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._families: list[Metric] = []

    def describe(self) -> Iterable[Metric]:
        return []  # names vary with what is stored; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.cache_seconds:
                self._families = self._read()
                self._read_at = time.monotonic()
            return list(self._families)

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "complaints_store_up", "1 when the last scrape-time read of the database succeeded."
        )
        try:
            families = read_store(self.sources, datetime.now(UTC))
        except Exception as error:  # the database away: say so, keep the counted figures
            log.warning("metrics: the store did not answer: %s", type(error).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]


def read_store(sources: StoreSources, now: datetime) -> list[Metric]:
    """One reading of every scrape-time figure."""
    app = sources.app
    status = projection_status(app, sources.read_models, list(sources.projections))
    head = status.head
    families: list[Metric] = []

    def gauge(name: str, text: str, labels: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        family = GaugeMetricFamily(name, text, labels=list(labels))
        for *label_values, value in rows:
            family.add_metric([str(v) for v in label_values], float(value))
        families.append(family)

    gauge("complaints_event_store_head_position", "Notification id of the last stored event.",
          [], [(head,)])
    projections = status.projections
    gauge("complaints_projection_position", "Last position the projection has processed.",
          ["projection"], [(p.name, p.position) for p in projections])
    gauge("complaints_projection_lag_events",
          "Events stored that the projection has not processed.",
          ["projection"], [(p.name, p.lag_events) for p in projections])
    gauge("complaints_projection_lag_seconds",
          "Age of the oldest event the projection has not processed (0 when caught up).",
          ["projection"],
          [(p.name, p.lag_seconds) for p in projections if p.lag_seconds is not None])
    gauge("complaints_projection_quarantined_events",
          "Events the projection set aside because applying them failed.",
          ["projection"], [(p.name, p.quarantined) for p in projections])

    subscriptions = sources.webhooks.all()
    pending: dict[str, int] = {}
    for redelivery in sources.webhooks.pending_redeliveries(100_000):
        pending[redelivery.subscription_id] = pending.get(redelivery.subscription_id, 0) + 1
    gauge("complaints_webhook_backlog_events",
          "Events after the subscription's position (not all need be of its types).",
          ["subscription"], [(s.id, max(0, head - s.position)) for s in subscriptions])
    gauge("complaints_webhook_consecutive_failures",
          "Failed attempts at the event the subscription is held at (0 when delivering).",
          ["subscription"], [(s.id, s.consecutive_failures) for s in subscriptions])
    gauge("complaints_webhook_redeliveries_pending", "Manual redeliveries waiting to be attempted.",
          ["subscription"], [(s.id, pending.get(s.id, 0)) for s in subscriptions])
    gauge("complaints_webhook_paused", "1 when the subscription is paused after repeated failures.",
          ["subscription"], [(s.id, int(s.state == PAUSED)) for s in subscriptions])

    relays = RelayPositions(app).all()
    gauge("complaints_relay_position", "Last position the relay published.",
          ["relay"], [(name, position) for name, position in sorted(relays.items())])
    gauge("complaints_relay_lag_events", "Events stored that the relay has not published.",
          ["relay"], [(name, max(0, head - position)) for name, position in sorted(relays.items())])

    if "sla" in sources.projections:
        sla = sla_backlog(sources.read_models, now)
        gauge("complaints_sla_deadlines_pending",
              "SLA clocks running toward their due instant (running or at risk).", [],
              [(sla.pending,)])
        gauge("complaints_sla_deadlines_overdue",
              "Running clocks past their due instant whose breach is not recorded yet.", [],
              [(sla.overdue,)])
        gauge("complaints_sla_watcher_lateness_seconds",
              "How long ago the oldest unrecorded due instant passed (0 when none).", [],
              [(sla.oldest_overdue_seconds,)])
    return families


# ---- multiprocess mode (serve --workers N) ---------------------------------------------------


class MultiprocessFiles:
    """The directory every process of ``serve --workers N`` writes its counts to: the given one
    (emptied of old files at start) or a temporary one (removed on exit). Entering it sets
    ``PROMETHEUS_MULTIPROC_DIR`` for this process and the workers it starts, before any
    instrument exists."""

    def __init__(self, directory: str | None) -> None:
        self.given = directory
        self.path = Path(directory or tempfile.mkdtemp(prefix="complaints-metrics-"))

    def __enter__(self) -> MultiprocessFiles:
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob("*.db"):
            stale.unlink()  # counts of processes of an earlier run
        os.environ[MULTIPROC_ENV] = str(self.path)
        values.ValueClass = values.get_value_class()  # chosen at import; choose again
        return self

    def process_ended(self, pid: int) -> None:
        """Marks a worker's files dead (its live gauges drop out; its counts stay summed)."""
        multiprocess.mark_process_dead(pid, str(self.path))

    def __exit__(self, *exc: object) -> None:
        if self.given is None:
            shutil.rmtree(self.path, ignore_errors=True)

