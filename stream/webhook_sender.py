"""Sends one signed delivery, within a hard deadline, reading at most a few KB of the answer.

Everything about one attempt (resolving, connecting, TLS, sending, the status line and headers,
and the capped body read) happens inside one ``webhook_timeout_seconds`` deadline: a receiver that
trickles its answer a byte at a time fails at the deadline like one that never answers. Only the
status code acknowledges a delivery; the body is read up to ``MAX_RESPONSE_BYTES`` (so small
answers keep the connection reusable) and the connection is closed on anything longer, so a
receiver answering 300 MB costs one 64 KB read buffer, not 300 MB.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from stream.delivery_errors import HTTP_STATUS, SECRET_UNAVAILABLE, error_class
from stream.delivery_policy import DeliveryPolicy
from stream.envelope import MEDIA_TYPE
from stream.guarded_network import guarded_client
from stream.webhook_signature import (
    ATTEMPT_HEADER,
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    signed_headers,
)
from stream.webhook_store import Delivery, Subscription
from stream.webhook_targets import AddressPolicy, ForbiddenAddressError, redacted

MAX_RESPONSE_BYTES = 4096


class WebhookSender:
    """Signs and POSTs events; never raises for receiver trouble, it reports it as a Delivery.

    Async, so a slow receiver holds a socket and a coroutine, not a thread: one worker can have
    ``webhook_concurrency`` attempts in flight without the slow ones starving the rest.
    """

    def __init__(self, policy: DeliveryPolicy) -> None:
        self._deadline = policy.timeout_seconds
        self._client = guarded_client(
            AddressPolicy(policy.allowed_networks),
            timeout=policy.timeout_seconds,
            max_connections=policy.concurrency,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self,
        subscription: Subscription,
        secret: str | None,
        event: dict[str, Any],
        *,
        attempt: int,
        manual: bool,
        delivery_id: str | None = None,
    ) -> Delivery:
        """One attempt; ``secret`` None means it could not be unsealed (nothing is sent)."""
        delivery_id = delivery_id or str(uuid.uuid4())
        started = time.time()
        clock = time.monotonic()
        status: int | None = None
        error: str | None = None
        if secret is None:
            error = SECRET_UNAVAILABLE
        else:
            try:
                async with asyncio.timeout(self._deadline):
                    status = await self._post(subscription.url, secret, event, delivery_id, attempt)
                if not 200 <= status < 300:
                    error = HTTP_STATUS
            except (
                httpx.HTTPError, httpx.InvalidURL, ForbiddenAddressError, TimeoutError, OSError
            ) as e:
                error = error_class(e)
        return Delivery(
            id=delivery_id, subscription_id=subscription.id, event_id=event["id"],
            position=event["position"], event_type=event["type"], attempt=attempt,
            manual=manual, succeeded=error is None, status_code=status, error=error,
            duration_ms=(time.monotonic() - clock) * 1000, attempted_at=started,
        )

    async def _post(
        self, url: str, secret: str, event: dict[str, Any], delivery_id: str, attempt: int
    ) -> int:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": f"{MEDIA_TYPE}; charset=utf-8",
            EVENT_ID_HEADER: event["id"],
            DELIVERY_ID_HEADER: delivery_id,
            ATTEMPT_HEADER: str(attempt),
            **signed_headers(secret, body),
        }
        # Subscriptions made before credentials in URLs were refused may carry user:password@;
        # send them as an Authorization header so that httpx never logs them with the URL.
        parts = urlsplit(url)
        auth = (
            httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
            if parts.username is not None or parts.password is not None
            else None
        )
        async with self._client.stream(
            "POST", redacted(url), content=body, headers=headers, auth=auth
        ) as response:
            received = 0
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received >= MAX_RESPONSE_BYTES:
                    break  # leaving the block closes the connection instead of reading on
            return response.status_code
