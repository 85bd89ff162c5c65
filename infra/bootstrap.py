"""The composition root: everything a process runs on, built from ``Settings`` in one place.

Modelled on cosmicpython's ``bootstrap.py``. ``bootstrap(settings)`` builds the application
service, the read-model store, the position watcher (``?min_position=`` waits), the event watcher
(SSE, webhooks) and the webhook store, and creates or migrates every table once (``create_tables``
below), unless ``settings.create_tables`` is false: ``serve --workers N`` creates them once in the
parent and starts its workers with ``COMPLAINTS_CREATE_TABLES=false``, because PostgreSQL's DDL run
concurrently can fail ("tuple concurrently updated").

What needs per-command options is made by a method of ``Services``: a projection runner (which
projections), the webhook worker, the NATS relay (URL, name, stream). The API (``create_app``),
every command of the CLI and every worker take a ``Services`` and build nothing themselves; whoever
calls ``bootstrap`` closes what it returns.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Any, Protocol, TypeVar

from commands.application import ComplaintsApp
from commands.audit_checkpoints import CheckpointService, CheckpointTimer, timer_context
from commands.automation import Automation
from commands.group_commit import GroupCommitOptions
from commands.repeat_complaints import RepeatComplaints
from commands.routing import Router
from infra.access_log import AccessLog
from infra.audit_key import audit_key
from infra.data_keys import DataKeyStore, master_keys
from infra.import_jobs import ImportJobs
from infra.metrics import Metrics, StoreCollector, StoreSources
from infra.persistence import database_from_url
from infra.scratch_views import TemporaryView
from infra.secrets import secret_box
from infra.settings import Settings
from infra.tracing import Tracing, tracing_from_environment
from projections.database import database_of
from projections.deadlines import DeadlineWatcher
from projections.position_watcher import PositionWatcher
from projections.projection import Projection
from projections.registry import REGISTERED, build, names
from projections.runner import BackgroundRunner, Runner
from projections.store import ReadModelStore
from queries.analytics_as_of import AnalyticsAsOf
from queries.customer_history import ViewCustomerHistory
from queries.workload import WorkloadStaffing
from stream.delivery_policy import DeliveryPolicy
from stream.event_watcher import EventWatcher
from stream.relay import NatsRelay, RelayOptions, RelayPositions
from stream.webhook_store import WebhookStore
from stream.webhooks import WebhookWorker

Section = TypeVar("Section", DeliveryPolicy, RelayOptions, GroupCommitOptions)

log = logging.getLogger(__name__)

ALL_VIEW_TABLES = tuple(t for cls in REGISTERED for t in cls.tables)


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass(eq=False)
class Services:
    """What one process runs on, built once by ``bootstrap``; ``close()`` (or leaving a ``with``
    block) stops the background workers it started, the watchers, and closes the application."""

    settings: Settings
    app: ComplaintsApp
    read_models: ReadModelStore
    position_watcher: PositionWatcher
    """Wakes ``?min_position=`` waits; its thread runs only while someone waits."""
    event_watcher: EventWatcher
    """One per process for every SSE stream and the webhook worker; started by its first user."""
    webhook_store: WebhookStore
    data_keys: DataKeyStore
    """Customers' data keys (personal data sealed in events; erasure destroys them)."""
    checkpoints: CheckpointService
    """Signed checkpoints of the hash chain (docs/audit.md)."""
    import_jobs: ImportJobs
    """The API's import jobs (``POST /imports``), visible to every process."""
    audit_key: bytes = field(repr=False)
    metrics: Metrics | None = None
    """The process's metrics (``infra/metrics.py``); None when ``metrics_enabled`` is false."""
    analytics_as_of: AnalyticsAsOf = field(init=False, repr=False)
    """The analytics summary as of past instants (scratch rebuilds, cached)."""
    tracing: Tracing | None = None
    """OpenTelemetry spans, when configured (``infra/tracing.py``); None: off."""
    _background: list[Stoppable] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        s = self.settings
        source = database_of(self.app)
        self.analytics_as_of = AnalyticsAsOf(
            self.app,
            lambda position: TemporaryView(source, position, s),
            report_tz=s.report_tz,
            cache_size=s.analytics_as_of_cache_size,
            page_size=s.projection_page_size,
            bulk_page_size=s.projection_bulk_page_size,
        )

    def projections(self, names: Sequence[str] = ()) -> list[Projection]:
        """The named projections (all when none are named), configured from the settings."""
        return build(
            names, report_tz=self.settings.report_tz, calendars=self.app.sla_terms.calendar
        )

    def runner(self, names: Sequence[str] = ()) -> Runner:
        """A runner of the named projections (all when none are named) on this store."""
        s = self.settings
        runner = Runner(
            self.app,
            self.projections(names),
            store=self.read_models,
            page_size=s.projection_page_size,
            bulk_page_size=s.projection_bulk_page_size,
            poll_seconds=s.projection_poll_seconds,
            batch_delay_seconds=s.projection_batch_delay_seconds,
            batch_interval_seconds=s.projection_batch_interval_seconds,
            retry_max_seconds=s.projection_retry_max_seconds,
        )
        if self.metrics is not None:
            runner.observer = self.metrics
        return runner

    def webhook_worker(self) -> WebhookWorker:
        """The delivery worker (not started), woken by this process's event watcher."""
        self.event_watcher.start()
        worker = WebhookWorker(
            self.app, delivery_policy(self.settings), self.webhook_store, watcher=self.event_watcher
        )
        if self.metrics is not None:
            worker.observer = self.metrics
        return worker

    def relay(
        self, *, url: str | None = None, name: str = "nats", stream: str | None = None
    ) -> NatsRelay:
        """The NATS JetStream relay; ``url`` and ``stream`` default to the settings."""
        options = relay_options(self.settings)
        if stream:
            options = dataclasses.replace(options, stream=stream)
        return NatsRelay(self.app, options, url=url, name=name)

    def sla_watcher(self) -> DeadlineWatcher:
        """The SLA deadline watcher (not started) on this store, on the application's clock."""
        s = self.settings
        return DeadlineWatcher(
            self.app,
            self.read_models,
            max_sleep_seconds=s.sla_watcher_max_sleep_seconds,
            poll_seconds=s.projection_poll_seconds,
        )

    def start_in_background(
        self,
        *,
        projections: bool,
        webhooks: bool,
        sla_watcher: bool = False,
        audit_checkpoints: bool = False,
    ) -> None:
        """Runs all projections, the webhook worker, the SLA deadline watcher and/or the audit
        checkpoint timer in daemon threads of this process (``complaints serve``) until
        ``close()``."""
        if projections:
            self._background.append(BackgroundRunner(self.runner()).start())
        if webhooks:
            self._background.append(self.webhook_worker().start())
        if sla_watcher:
            self._background.append(self.sla_watcher().start())
        if audit_checkpoints and self.settings.audit_checkpoint_seconds > 0:
            timer = CheckpointTimer(
                self.checkpoints, self.settings.audit_checkpoint_seconds, timer_context
            )
            self._background.append(timer.start())

    def serve_metrics(self, port: int) -> None:
        """A worker's metrics on a port of its own (``--metrics-port``), on the configured host."""
        if self.metrics is None:
            raise RuntimeError("--metrics-port needs COMPLAINTS_METRICS_ENABLED=true")
        self.metrics.serve(port, self.settings.host)

    def close(self) -> None:
        self.import_jobs.stop()  # after their current batch, before the store closes
        if self.metrics is not None:
            self.metrics.close()
        for worker in reversed(self._background):
            worker.stop()
        self._background.clear()
        self.event_watcher.stop()
        self.position_watcher.close()
        self.analytics_as_of.close()
        self.app.close()
        if self.tracing is not None:
            self.tracing.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def bootstrap(settings: Settings) -> Services:
    """Builds everything a process needs from ``settings``, its tables created or migrated
    (unless ``settings.create_tables`` is false)."""
    database = database_from_url(settings.database_url, settings)
    # The library creates its own tables here when CREATE_TABLE says so.
    app = ComplaintsApp(
        env=database.env,
        token_cache_seconds=settings.token_cache_seconds,
        group_commit=section(GroupCommitOptions, settings, "group_commit_"),
        survey_validity=timedelta(days=settings.survey_valid_days),
    )
    try:
        read_models = ReadModelStore(app)
        webhook_store = WebhookStore(app, secret_box(settings))
        data_keys = DataKeyStore(
            app, master_keys(settings), cache_seconds=settings.data_key_cache_seconds
        )
        app.mapper.protect_with(data_keys, encrypt=settings.encrypt_personal_data)
        app.customer_history = ViewCustomerHistory(read_models)
        app.directory.cache_seconds = settings.directory_cache_seconds
        app.routing_rules.cache_seconds = settings.directory_cache_seconds
        app.automation.cache_seconds = settings.automation_cache_seconds
        app.automation.disabled = frozenset(settings.automation_disabled_rules)
        # Reactions, in order (commands/reactions.py): routing first, so that the links and the
        # rules see the owner it gave; then the repeat-complaint links; then the automation
        # rules, which may act on both.
        if settings.routing:
            app.reactions.append(
                Router(app.routing_rules, app.directory, WorkloadStaffing(read_models))
            )
        if settings.repeat_complaints_enabled:
            app.reactions.append(
                RepeatComplaints(
                    timedelta(days=settings.repeat_complaints_window_days),
                    settings.repeat_complaints_max_links,
                )
            )
        if settings.automation:
            app.reactions.append(Automation(app.automation))
        signing_key = audit_key(settings)
        tracing = tracing_from_environment(os.environ)
        if tracing is not None:
            app.tracer = tracing
        if settings.create_tables:
            create_tables(app, read_models, webhook_store)
            data_keys.create_tables()
        metrics = None
        if settings.metrics_enabled:
            sources = StoreSources(app, read_models, webhook_store, names())
            metrics = Metrics(StoreCollector(sources, settings.metrics_cache_seconds))
            app.observer = metrics
        return Services(
            settings=settings,
            app=app,
            read_models=read_models,
            position_watcher=PositionWatcher(
                read_models, poll_seconds=settings.projection_poll_seconds
            ),
            event_watcher=EventWatcher(app, settings.stream_poll_seconds),
            webhook_store=webhook_store,
            data_keys=data_keys,
            checkpoints=CheckpointService(app, database_of(app), signing_key),
            import_jobs=ImportJobs(read_models),
            audit_key=signing_key,
            metrics=metrics,
            tracing=tracing,
        )
    except BaseException:
        app.close()
        raise


def create_tables(app: ComplaintsApp, read_models: ReadModelStore, webhooks: WebhookStore) -> None:
    """Creates every table beside the library's (which the application creates itself) and
    brings older rows up to date: the read models' (with the dead-letter and tracking tables,
    old projection names upgraded, instants clamped into the storable range), the relay's
    positions, and the webhook tables (plaintext secrets sealed, legacy error texts reduced)."""
    views = {cls.name: cls.tables for cls in REGISTERED}
    for name in read_models.outdated(views):
        # Tables are created when missing, never altered: a view whose columns changed is
        # dropped and refilled from the events by the runner, so an upgrade needs no manual step.
        log.warning("view %s has other columns in this version: rebuilding it from event 0", name)
        read_models.reset(name, views[name])
    read_models.create_tables(ALL_VIEW_TABLES)
    read_models.clamp_stored_instants(ALL_VIEW_TABLES)
    RelayPositions(app).create_table()
    AccessLog(read_models).create_table()
    ImportJobs(read_models).create_table()
    webhooks.migrate()


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """The webhook worker's part of the settings (``stream/`` never sees ``Settings``)."""
    return section(
        DeliveryPolicy, settings, "webhook_",
        allowed_networks=tuple(settings.webhook_allowed_networks),
        source=settings.events_source, poll_seconds=settings.stream_poll_seconds,
    )


def relay_options(settings: Settings) -> RelayOptions:
    """The NATS relay's part of the settings."""
    return section(
        RelayOptions, settings, "nats_",
        source=settings.events_source, poll_seconds=settings.stream_poll_seconds,
    )


def section(kind: type[Section], settings: Settings, prefix: str, **given: Any) -> Section:
    """A frozen dataclass of options: each field not ``given`` is the setting ``prefix + name``
    (``DeliveryPolicy.timeout_seconds`` is ``COMPLAINTS_WEBHOOK_TIMEOUT_SECONDS``)."""
    fields = [f.name for f in dataclasses.fields(kind) if f.name not in given]
    return kind(**{name: getattr(settings, prefix + name) for name in fields}, **given)
