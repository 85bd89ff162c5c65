"""Which addresses and URLs a webhook may target: the server-side request forgery (SSRF) policy.

A webhook makes this server send requests to a URL an admin typed, from inside our network. By
default only globally routable unicast addresses are reachable: loopback, private (RFC 1918),
shared/CGNAT (100.64/10), link-local (cloud metadata at 169.254.169.254), unique-local (fc00::/7),
site-local, multicast, unspecified, broadcast, documentation and reserved ranges are refused, as are
IPv6 spellings that embed such an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``). Operators who need internal receivers list their networks in
``COMPLAINTS_WEBHOOK_ALLOWED_NETWORKS``.

The decision that matters is taken on the *resolved* address at connect time
(``stream/guarded_network.py``), so a name that resolves elsewhere later (DNS rebinding) gains
nothing; the check at subscription time only gives the admin an early, friendly answer. Numeric
host spellings (``0x7f000001``, ``2130706433``, ``0177.0.0.1``, ``127.1``) are normalised by the
URL parser and, failing that, by the resolver, so they are judged as the address they mean.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215 local-use NAT64: translates into whatever the operator's network is; never public.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
# How long subscription-time validation waits for DNS before leaving it to the connect-time check.
RESOLVE_TIMEOUT_SECONDS = 2.0


class ForbiddenAddressError(Exception):
    """Raised when a webhook target resolves only to addresses the policy refuses."""


class UnsafeUrlError(ValueError):
    """Raised when a webhook URL is refused at subscription time; the message is the reason."""


def _category(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in _SHARED:
            return "shared (CGNAT)"
        if ip == ipaddress.IPv4Address("255.255.255.255"):
            return "broadcast"
    else:
        if ip.is_site_local:
            return "site-local"
        if ip in _LOCAL_NAT64:
            return "local-use NAT64"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-global"
    return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


class AddressPolicy:
    """Refuses non-public addresses unless they fall in an explicitly allowed network."""

    def __init__(self, allowed_networks: Sequence[str] = ()) -> None:
        self.allowed: list[IPNetwork] = [
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        ]

    def _allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self.allowed)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be connected to, or None when it may."""
        embedded = _embedded_ipv4(ip)
        if self._allowed(ip) or (embedded is not None and self._allowed(embedded)):
            return None
        if embedded is not None:
            inner = _category(embedded)
            if inner is not None:
                return f"{ip} embeds the {inner} address {embedded}"
        category = _category(ip)
        if category is not None:
            return f"{ip} is a {category} address"
        return None

    def permits(self, address: str) -> bool:
        """Whether a resolved address (as the resolver returns it) may be connected to."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return self.refusal(ip) is None


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def redacted(url: str) -> str:
    """The URL without user:password@, for logs and API answers."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return SplitResult(parts.scheme, host, parts.path, parts.query, parts.fragment).geturl()


def check_url(url: str, policy: AddressPolicy) -> None:
    """Refuses, with the reason, a URL that carries credentials or points at a refused address.

    A name that does not resolve (yet) passes: the connect-time check judges it at delivery.
    """
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrlError(
            "credentials in the URL are not accepted; receivers authenticate deliveries by "
            "their signature (the subscription secret)"
        )
    host = parts.hostname or ""
    ip = literal_ip(host)
    if ip is not None:
        reason = policy.refusal(ip)
        if reason:
            raise UnsafeUrlError(f"{reason}; webhooks may not target it")
        return
    for address in _resolve(host, parts.port or (443 if parts.scheme == "https" else 80)):
        refused = literal_ip(address)
        reason = policy.refusal(refused) if refused is not None else "unparseable address"
        if reason:
            raise UnsafeUrlError(f"{host} resolves to {reason}; webhooks may not target it")


def _resolve(host: str, port: int) -> list[str]:
    # getaddrinfo has no timeout of its own; a slow resolver must not hold the request for long.
    resolver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-dns-check")
    future = resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    resolver.shutdown(wait=False)
    try:
        infos = future.result(timeout=RESOLVE_TIMEOUT_SECONDS)
    except (OSError, UnicodeError, FutureTimeout):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
