"""Numeric headers of the outbound stream accept ASCII digits only (str.isdigit() takes "²")."""

from __future__ import annotations

import time

import pytest

from stream.relay import position_of
from stream.webhook_signature import signed_headers, verify

SECRET = "s3cret-s3cret-s3cret"


@pytest.mark.parametrize("header", ["²", "١٢", "", None, "-1", "12a", " 12"])
def test_a_position_header_that_is_not_ascii_digits_reads_as_zero(header: str | None) -> None:
    assert position_of(header) == 0


def test_a_position_header_of_ascii_digits_is_read() -> None:
    assert position_of("1042") == 1042


@pytest.mark.parametrize("timestamp", ["²", "١٧٠٠٠٠٠٠٠٠", "1.5", ""])
def test_a_signature_with_a_non_ascii_timestamp_is_refused_not_an_error(timestamp: str) -> None:
    headers = signed_headers(SECRET, b"{}")
    assert not verify(SECRET, timestamp, headers["Complaints-Webhook-Signature"], b"{}")


def test_a_fresh_signature_verifies() -> None:
    headers = signed_headers(SECRET, b"{}", now=time.time())
    assert verify(
        SECRET, headers["Complaints-Webhook-Timestamp"],
        headers["Complaints-Webhook-Signature"], b"{}",
    )
