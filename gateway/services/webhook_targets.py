"""Where a webhook may be delivered: not to the gateway's own network, outside development.

A webhook URL is chosen by whoever holds an API key; without a guard it is a way to make the
gateway POST to its own database, metadata service or admin ports (server-side request forgery).
So, unless `WEBHOOK_ALLOW_PRIVATE` says otherwise (by default only in development, where the
receivers run on this machine), a URL is refused when it names a loopback, private, link-local,
reserved or otherwise non-public address, or `localhost`: at registration (422), and again at
every delivery, after DNS, so a name that resolves (or is re-pointed) to such an address is never
connected to (the attempt fails with that reason and is retried like any failed delivery).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def refused_host(host: str) -> str | None:
    """Why a URL's host may not be delivered to (an address or a name of this machine), or None
    when it may be (a public address, or a name whose addresses are checked when it resolves)."""
    name = host.strip("[]").rstrip(".").lower()
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return f"{host!r} is this machine"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    return None if _public(address) else f"{address} is not a public address"


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class NotPublic(OSError):
    """A delivery's host resolved to no public address."""


class PublicResolver(AbstractResolver):
    """aiohttp's resolver, keeping only public addresses: a name that resolves to none raises
    `NotPublic` (aiohttp hands it on as the connection error's `os_error`)."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [r for r in found if _public(ipaddress.ip_address(r["host"]))]
        if not public:
            raise NotPublic(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def connector_args(allow_private: bool) -> dict[str, Any]:
    """The aiohttp connector's arguments for delivery sessions."""
    return {} if allow_private else {"resolver": PublicResolver()}
