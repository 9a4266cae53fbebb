"""Where a webhook may be sent: public addresses only, unless the webhook allows private ones.

A webhook URL set by someone other than the operator must not reach the operator's own network
(loopback, private, link-local such as a cloud metadata service, ...): the delivery log would
tell its owner which internal ports answer. The host is checked when the webhook is added, for a
clear error, and again on every new connection, because a name can resolve elsewhere by then
(DNS rebinding). The connection check resolves the name once, refuses the connection unless
every address is public, and connects to a checked address itself: no second lookup happens
between the check and the connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore2
import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are IPv4
_DEFAULT_PORTS = {"http": 80, "https": 443}


class DestinationRefused(ValueError):
    """The URL's host is, or resolves to, an address that is not public."""


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives ``host`` (an IP literal resolves to itself)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination (None when it is)."""
    for embedded in _embedded_ipv4(address):
        if (why := refusal(embedded)) is not None:
            return f"{why}, embedded in {address}"
    checks = (
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("reserved", address.is_reserved and not _embedded_ipv4(address)),
        ("not globally reachable", not address.is_global),
    )
    return next((name for name, applies in checks if applies), None)


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, NAT64, 6to4), which is where it goes."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return [address.sixtofour] if address.sixtofour is not None else []


async def public_addresses(host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    """``host``'s addresses, all public, or DestinationRefused saying which one is not."""
    try:
        addresses = await resolve(host, port)
    except (OSError, ValueError, UnicodeError) as exc:
        raise DestinationRefused(f"The host {host!r} does not resolve ({exc}).") from None
    if not addresses:
        raise DestinationRefused(f"The host {host!r} does not resolve.")
    for address in addresses:
        if (why := refusal(address)) is not None:
            shown = host if host == str(address) else f"{host!r} resolves to {address}, which"
            raise DestinationRefused(f"{shown} is not a public address ({why}).")
    return addresses


async def check_public(url: str, resolve: Resolver = system_resolve) -> None:
    """Refuse (DestinationRefused) a URL whose host is or resolves to a non-public address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    await public_addresses(host, parts.port or _DEFAULT_PORTS.get(parts.scheme, 80), resolve)


class PublicOnlyBackend(httpcore2.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to public addresses: the name is resolved
    here, every address checked, and the socket opened to a checked address (TLS still verifies
    and sends the name: httpcore passes it to start_tls separately)."""

    def __init__(self, resolve: Resolver = system_resolve, inner: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self._resolve = resolve
        self._inner = inner if inner is not None else httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            addresses = await public_addresses(host, port, self._resolve)
        except DestinationRefused as exc:
            raise httpcore2.ConnectError(f"Refused: {exc} (SCIMHUB_WEBHOOK_ALLOW_PRIVATE)") from None
        failure: Exception | None = None
        for address in addresses:  # in the resolver's order, as a connect by name would try them
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("Refused: a Unix socket is no public destination.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyTransport(httpx2.AsyncHTTPTransport):
    """httpx's transport whose every new connection goes through PublicOnlyBackend. No proxy
    from the environment: a proxy would resolve the name itself, after the check."""

    def __init__(self, resolve: Resolver = system_resolve) -> None:
        ssl_context = httpx2.create_ssl_context(trust_env=False)  # made once: loading the CAs takes ~0.1 s
        super().__init__(verify=ssl_context, trust_env=False)
        limits = httpx2.Limits()
        # httpx takes no network backend; the pool it built is replaced by the same one with ours.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PublicOnlyBackend(resolve),
        )
