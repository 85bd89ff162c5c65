"""The webhook worker counts its attempts by outcome in the process's metrics, and the scrape
shows the subscription's backlog and state as stored."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from commands.context import CommandContext
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from tests.stream.receiver import Receiver
from tests.stream.webhook_setup import SECRET, file_and_assign, wait_until, webhook_settings


def figure(services: Services, name: str, **labels: str) -> float:
    assert services.metrics is not None
    for family in text_string_to_metric_families(services.metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_deliveries_are_counted_by_outcome(
    settings: Settings, ctx: CommandContext, hook: Receiver
) -> None:
    fast = webhook_settings(settings, webhook_retry_base_seconds=0.01, metrics_cache_seconds=0)
    with bootstrap(fast) as services:
        head = services.app.recorder.max_notification_id() or 0
        sub = services.webhook_store.add(
            url=hook.url, types=[], secret=SECRET, position=head, created_by="test"
        ).id
        hook.fail_next = 1
        file_and_assign(services.app, ctx)  # filed, SLA applied, assigned: 3 events
        deliveries = "complaints_webhook_deliveries_total"
        stored = (services.app.recorder.max_notification_id() or 0) - head  # indexes included
        assert figure(services, "complaints_webhook_backlog_events", subscription=sub) == stored
        worker = services.webhook_worker().start()
        try:
            wait_until(lambda: figure(services, deliveries, subscription=sub,
                                      outcome="succeeded") == 3)
        finally:
            worker.stop()
        assert figure(services, deliveries, subscription=sub, outcome="failed") == 1
        wait_until(lambda: figure(services, "complaints_webhook_backlog_events",
                                  subscription=sub) == 0)
        assert figure(services, "complaints_webhook_consecutive_failures", subscription=sub) == 0
