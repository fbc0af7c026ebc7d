"""The facts the pure policy engine is told about one message, gathered from database rows.

Dispatch and `POST /v1/policy/evaluate` build them here, the same way, so the explanation an
upstream system gets is the decision a worker would make.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scheduler.decisions import CaseFacts, ContactFacts, MessageFacts
from scheduler.personal import restrictions_of
from scheduler.presets import Preset
from scheduler.zones import Resolution, resolve

# (last inbound, acknowledgements since, replies since) of a contact point that wrote to us.
Inbound = tuple[datetime, int, int]


def message_facts(row: Any) -> MessageFacts:
    return MessageFacts(
        row.channel,
        row.purpose,
        row.not_before,
        scheduled_at=row.not_before or row.created_at,
    )


def case_facts(row: Any, identity: frozenset[str], preset: Preset | None) -> CaseFacts:
    """`row` carries the case's columns (state, state_reason, state_until, preset, timezone,
    debtor, collector_role, restrictions) under those names or with a `case_` prefix for the state ones."""
    return CaseFacts(
        _get(row, "case_state", "state"),
        _get(row, "case_state_reason", "state_reason"),
        row.state_until,
        row.preset,
        zones=(resolution := debtor_resolution(row, identity, preset)).zones,
        zones_note=resolution.note,
        collector_role=row.collector_role,
        restrictions=restrictions_of(row.restrictions),
    )


def contact_facts(
    channel: str, status: str, role: str, inbound: Inbound | None = None
) -> ContactFacts:
    if inbound is None:
        return ContactFacts(channel, status, role)
    last, acks, replies = inbound
    return ContactFacts(
        channel,
        status,
        role,
        last_inbound_at=last,
        acknowledged_since_inbound=acks > 0,
        replies_since_inbound=replies,
    )


def _get(row: Any, name: str, fallback: str) -> Any:
    return getattr(row, name) if hasattr(row, name) else getattr(row, fallback)


def debtor_zones(row: Any, identity: frozenset[str], preset: Preset | None) -> tuple[str, ...]:
    """The debtor's candidate zones: stated zone, postal address, every phone number (§6.4)."""
    return debtor_resolution(row, identity, preset).zones


def debtor_resolution(row: Any, identity: frozenset[str], preset: Preset | None) -> Resolution:
    """The debtor's candidate zones with their sources, and why the set is wide if it is."""
    if preset is None:
        return Resolution((), ())
    postal = row.debtor.get("postal_address") or {}
    lines = postal.get("lines") or []
    phones = tuple(sorted(a for a in identity if a.startswith("+")))
    address = None
    if postal:
        last = lines[-1] if lines else ""
        address = (postal.get("country", ""), postal.get("region"), postal.get("postal_code"), last)
    return _zones_of(row.timezone, address, phones, preset)


def zone_sources(row: Any, identity: frozenset[str], preset: Preset | None) -> list[Any]:
    """Where the debtor's zones came from, as the items of the evaluate answer's `zone_sources`
    (plain data it validates; never a phone number)."""
    return [
        {"source": s.kind, "zones": list(s.zones), "basis": s.basis, "widened": s.widened or None}
        for s in debtor_resolution(row, identity, preset).sources
    ]


_ZONES: dict[tuple[object, ...], tuple[Any, Resolution]] = {}


def _zones_of(
    stated: str | None,
    address: tuple[str, str | None, str | None, str] | None,
    phones: tuple[str, ...],
    preset: Preset,
) -> Resolution:
    # Phone-number and address lookups repeat for every message of a debtor: memoized per
    # process. The entry holds the preset, so its id is not reused by another one meanwhile.
    key = (stated, address, phones, id(preset))
    cached = _ZONES.get(key)
    if cached is None or cached[0] is not preset:
        if len(_ZONES) > 65536:
            _ZONES.clear()
        postal = None
        if address is not None:
            keys = ("country", "region", "postal_code", "line")
            postal = dict(zip(keys, address, strict=True))
        cached = _ZONES[key] = (preset, resolve(stated, postal, list(phones), preset))
    return cached[1]
