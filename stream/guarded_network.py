"""An httpx transport that connects only to addresses the webhook policy permits.

The check sits in httpcore's network backend, the one place that turns a host name into a socket:
it resolves the name once, drops every address the policy refuses, and connects to one of the
very addresses it checked. A name that resolved to a public address when the subscription was
made and resolves to 127.0.0.1 now (DNS rebinding) is refused, because nothing else resolves it
again between the check and the connect. TLS still verifies the certificate against the URL's
host name (httpcore passes the origin's name as ``server_hostname``), and the ``Host`` header comes
from the URL, so connecting by address changes nothing for the receiver.

Environment proxies and ``.netrc`` are ignored (``trust_env`` off): a proxy would make the
connection on our behalf, out of this check's sight.
"""

from __future__ import annotations

import socket
import typing

import anyio
import httpcore
import httpx

from stream.webhook_targets import AddressPolicy, ForbiddenAddressError


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            # In a worker thread that a deadline may abandon: getaddrinfo cannot be interrupted.
            infos = await anyio.to_thread.run_sync(
                lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM),
                abandon_on_cancel=True,
            )
        except (OSError, UnicodeError) as e:
            raise httpcore.ConnectError(f"cannot resolve {host}") from e
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        permitted = [a for a in addresses if self._policy.permits(a)]
        if not permitted:
            raise ForbiddenAddressError(f"{host} resolves only to refused addresses")
        failure: Exception | None = None
        for address in permitted:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                failure = e
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenAddressError("webhooks do not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with the pool built on the guarded backend.

    ``AsyncHTTPTransport`` takes no network backend, so this builds the pool it would build (no
    proxy, no unix socket) and leaves request handling and error mapping to the parent class.
    """

    def __init__(self, policy: AddressPolicy, *, max_connections: int) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedNetworkBackend(policy),
        )


def guarded_client(
    policy: AddressPolicy, *, timeout: float, max_connections: int
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, max_connections=max_connections),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "complaint-ledger-webhooks/1"},
    )
