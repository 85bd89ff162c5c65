"""The webhook SSRF policy on its own: which literal targets are refused, and the allowlist."""

from __future__ import annotations

import pytest
from pydantic import HttpUrl, TypeAdapter

from stream.webhook_targets import AddressPolicy, UnsafeUrlError, check_url, redacted

DEFAULT = AddressPolicy()

# Spellings a hostile or careless admin might use for an internal target. Each goes through the
# same URL parser the API uses (pydantic's HttpUrl), as the API would pass it on.
INTERNAL_URLS = [
    "http://127.0.0.1:8000/hook",
    "http://[::1]:8000/hook",
    "http://0x7f000001/hook",
    "http://2130706433/hook",
    "http://0177.0.0.1/hook",
    "http://127.1/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "http://[64:ff9b:1::a00:1]/hook",  # local-use NAT64
    "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://[fd00::1]/hook",
    "http://[fec0::1]/hook",
    "http://224.0.0.1/hook",
    "http://[ff02::1]/hook",
    "http://255.255.255.255/hook",
    "http://240.0.0.1/hook",
    "http://198.18.0.1/hook",
    "http://localhost:8000/hook",
]


def parsed(url: str) -> str:
    return str(TypeAdapter(HttpUrl).validate_python(url))


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_targets_are_refused_by_default(url: str) -> None:
    with pytest.raises(UnsafeUrlError, match="webhooks may not target it"):
        check_url(parsed(url), DEFAULT)


@pytest.mark.parametrize(
    "url", ["https://93.184.216.34/hook", "http://[2606:4700::1111]/hook", "http://8.8.8.8/"]
)
def test_public_addresses_pass(url: str) -> None:
    check_url(parsed(url), DEFAULT)


def test_an_unresolvable_name_is_left_to_the_connect_time_check() -> None:
    check_url(parsed("https://receiver.invalid/hook"), DEFAULT)


@pytest.mark.parametrize(
    "url", ["http://user:pw@93.184.216.34/hook", "http://token@93.184.216.34/", "http://:pw@a.b/"]
)
def test_credentials_in_the_url_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrlError, match="credentials"):
        check_url(parsed(url), DEFAULT)


def test_the_allowlist_admits_only_its_networks() -> None:
    policy = AddressPolicy(["127.0.0.1/32", "10.0.0.0/8"])
    check_url(parsed("http://127.0.0.1:9000/hook"), policy)
    check_url(parsed("http://10.20.30.40/hook"), policy)
    check_url(parsed("http://[::ffff:127.0.0.1]/hook"), policy)  # the same address, mapped
    with pytest.raises(UnsafeUrlError):
        check_url(parsed("http://127.0.0.2/hook"), policy)
    with pytest.raises(UnsafeUrlError):
        check_url(parsed("http://[::1]/hook"), policy)
    assert policy.permits("127.0.0.1") and not policy.permits("169.254.169.254")


def test_resolved_addresses_with_a_scope_or_garbage_are_judged_safely() -> None:
    assert not DEFAULT.permits("fe80::1%eth0")
    assert not DEFAULT.permits("not-an-address")
    assert DEFAULT.permits("93.184.216.34")


def test_redacted_drops_credentials_only() -> None:
    assert redacted("https://user:pw@example.com:8443/a?b=1") == "https://example.com:8443/a?b=1"
    assert redacted("https://example.com/a") == "https://example.com/a"
