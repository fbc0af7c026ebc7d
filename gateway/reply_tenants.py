"""Whose a reply is when its sender is on no case: the tenant that owns the number or address it
was sent to (`REPLY_TENANTS`).

A reply matched to a case is its case's tenant's. One from a sender on none of the cases is only
known by where it arrived: `+15005550006=acme,@replies.acme.example=acme,*=default` gives that
number and that mail domain to `acme` and every other receiving address to `default`. With no
`*`, a reply to an address nobody owns belongs to no tenant: no API key lists it (it stays in
the database and in the evidence export). An address named for a tenant also keeps its replies
to that tenant's cases: a debtor of two tenants who answers one tenant's number is threaded to
that tenant's case, never to the other's.

The default, `*=default`, is the single-tenant deployment every other default assumes (keys are
made for the tenant `default`); a deployment whose tenants share a sending number names no `*`
for them, since nothing tells whose debtor wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

ANY = "*"
FORMAT = "address=tenant,… (an E.164 number, an email address, @domain, or *)"


@dataclass(frozen=True, slots=True)
class ReplyTenants:
    """Receiving addresses (numbers and lowercased mail addresses), mail domains, and the
    tenant of every other address (None: nobody)."""

    addresses: dict[str, str]
    domains: dict[str, str]
    fallback: str | None

    def named(self, to_addr: str | None) -> str | None:
        """The tenant this receiving address is named for (not the `*` one), or None."""
        if not to_addr:
            return None
        address = to_addr.strip().lower()
        if address in self.addresses:
            return self.addresses[address]
        _, at, domain = address.rpartition("@")
        return self.domains.get(domain) if at else None

    def owner(self, to_addr: str | None) -> str | None:
        """The tenant a reply sent to `to_addr` by nobody on a case belongs to, or None."""
        return self.named(to_addr) or self.fallback


@lru_cache(maxsize=8)
def parse(raw: str) -> ReplyTenants:
    """Parse `REPLY_TENANTS`; ValueError names the entry that is wrong."""
    addresses: dict[str, str] = {}
    domains: dict[str, str] = {}
    fallback: str | None = None
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        address, sep, tenant = (part.strip() for part in entry.rpartition("="))
        if not sep or not address or not tenant or len(tenant) > 64:
            raise ValueError(f"REPLY_TENANTS: {entry!r} is not {FORMAT}")
        key = address.lower()
        if key == ANY:
            if fallback is not None:
                raise ValueError("REPLY_TENANTS: * is listed twice")
            fallback = tenant
            continue
        table = domains if key.startswith("@") else addresses
        key = key.removeprefix("@")
        if key in table:
            raise ValueError(f"REPLY_TENANTS: {address!r} is listed twice")
        table[key] = tenant
    return ReplyTenants(addresses, domains, fallback)
