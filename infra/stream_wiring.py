"""The event stream's configuration, taken from ``Settings``, and the webhook worker `serve` runs.

``stream/`` never sees ``Settings``: it is handed these few values (and ``infra/secrets.py``'s
``SecretBox`` as its ``Sealer``).
"""

from __future__ import annotations

from infra.secrets import secret_box
from infra.settings import Settings
from infra.wiring import build_app
from stream.delivery_policy import DeliveryPolicy
from stream.relay import RelayOptions
from stream.webhooks import WebhookWorker


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        timeout_seconds=settings.webhook_timeout_seconds,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        retry_max_seconds=settings.webhook_retry_max_seconds,
        max_failures=settings.webhook_max_failures,
        concurrency=settings.webhook_concurrency,
        allowed_networks=tuple(settings.webhook_allowed_networks),
        source=settings.events_source,
        poll_seconds=settings.stream_poll_seconds,
    )


def relay_options(settings: Settings) -> RelayOptions:
    return RelayOptions(
        url=settings.nats_url,
        stream=settings.nats_stream,
        subject_prefix=settings.nats_subject_prefix,
        source=settings.events_source,
        poll_seconds=settings.stream_poll_seconds,
    )


def start_webhook_worker(settings: Settings) -> WebhookWorker:
    """Runs a worker with its own application service on daemon threads (used by `serve`).

    No orderly stop is needed: delivery is at-least-once from the recorded position, so a process
    that exits mid-delivery only causes that one event to be sent again on the next start.
    """
    worker = WebhookWorker(build_app(settings), delivery_policy(settings), secret_box(settings))
    return worker.start()
