"""The classes of failed webhook deliveries: the only values the delivery log's `error` holds.

Never the exception's text: it held host names, ports and resolver messages, so the delivery log
worked as a port scanner (refused vs timed out vs "Name or service not known"). Refused, reset,
unreachable, unresolvable and malformed answers all read ``connection_failed``.
"""

from __future__ import annotations

import ssl

import httpx

from stream.webhook_targets import ForbiddenAddressError

FORBIDDEN_ADDRESS = "forbidden_address"
"""The target resolved only to refused addresses (no connection was made)."""
CONNECTION_FAILED = "connection_failed"
TLS_ERROR = "tls_error"
TIMEOUT = "timeout"
"""No complete answer within ``webhook_timeout_seconds``."""
HTTP_STATUS = "http_status"
"""A non-2xx answer; the delivery's ``status_code`` says which."""
SECRET_UNAVAILABLE = "secret_unavailable"
"""The signing secret could not be unsealed (another key is configured); nothing was sent."""

ERROR_CLASSES = (
    FORBIDDEN_ADDRESS, CONNECTION_FAILED, TLS_ERROR, TIMEOUT, HTTP_STATUS, SECRET_UNAVAILABLE
)


def _is_tls_failure(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def error_class(error: BaseException) -> str:
    """The delivery-log class of an exception raised while sending."""
    if isinstance(error, ForbiddenAddressError):
        return FORBIDDEN_ADDRESS
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return TIMEOUT
    if _is_tls_failure(error):
        return TLS_ERROR
    return CONNECTION_FAILED
