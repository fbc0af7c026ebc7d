"""Debtors for the benchmark: a profile whose contact window is open now, case bodies, seeding.

The policy engine defers anything outside the debtor's local contact window, and caps how often
one debtor is contacted. A throughput run must measure sending, not deferral, so:
- every debtor's data (preset, stated zone, phone prefix, postal address) points at one zone in
  which the window stays open for the whole run (`pick_profile`; public holidays are not checked,
  and when no preset's window is open the run says so and proceeds);
- each end-to-end message goes to a debtor of its own, as a bank's daily batch would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Profile:
    name: str
    preset: str
    zone: str
    currency: str
    phone_base: int  # E.164 digits; debtor i gets phone_base + i
    address: tuple[str, ...]
    country: str
    postal_code: str
    # Local times [start, end) in minutes after midnight, per weekday (Mon=0): the preset's window
    # less a margin at both ends (its safety margin before the end is 15 minutes).
    hours: dict[int, tuple[int, int]]


def _hm(start: str, end: str) -> tuple[int, int]:
    (h1, m1), (h2, m2) = (map(int, start.split(":")), map(int, end.split(":")))
    return h1 * 60 + m1, h2 * 60 + m2


DAILY = dict.fromkeys(range(7), _hm("08:15", "20:30"))
PROFILES = (
    Profile(
        "CN",
        "CN",
        "Asia/Shanghai",
        "CNY",
        8613900000000,
        ("No. 1 Jianguomenwai Ave", "Chaoyang District, Beijing"),
        "CN",
        "100022",
        DAILY,
    ),
    Profile(
        "US",
        "US-RegF",
        "America/Chicago",
        "USD",
        13122000000,
        ("233 S Wacker Dr", "Chicago, IL 60606"),
        "US",
        "60606",
        {**DAILY, 6: _hm("12:15", "20:30")},
    ),
    Profile(
        "UK",
        "UK-FCA",
        "Europe/London",
        "GBP",
        447400000000,
        ("10 Downing Street", "London"),
        "GB",
        "SW1A 2AA",
        {**dict.fromkeys(range(5), DAILY[0]), 5: _hm("09:15", "16:30")},
    ),
)


def _open(profile: Profile, when: datetime) -> bool:
    local = when.astimezone(ZoneInfo(profile.zone))
    window = profile.hours.get(local.weekday())
    minute = local.hour * 60 + local.minute
    return window is not None and window[0] <= minute < window[1]


def pick_profile(
    now: datetime | None = None, lasting: timedelta = timedelta(minutes=20)
) -> tuple[Profile, bool]:
    """A profile whose window is open from now for `lasting`; (the first one, False) if none is."""
    now = now or datetime.now(UTC)
    for profile in PROFILES:
        if _open(profile, now) and _open(profile, now + lasting):
            return profile, True
    # No real window is open: US debtors under BENCH-OPEN (bench/presets), so the run measures the
    # same work (the policy is evaluated for every message) instead of deferring everything.
    us = next(p for p in PROFILES if p.name == "US")
    return replace(us, name="US-always-open", preset="BENCH-OPEN"), False


def locale() -> str:
    """The debtors' language: English unless BENCH_LOCALE says otherwise (e.g. zh-CN).

    Fixed rather than following the profile, so that figures taken at different times of day
    (hence with different profiles) render the same templates.
    """
    return os.environ.get("BENCH_LOCALE", "en")


def case_body(profile: Profile, i: int) -> dict[str, Any]:
    return {
        "debtor": {
            "name": f"Debtor Number {i}",
            "first_name": "Alex",
            "locale": locale(),
            "timezone": profile.zone,
            "postal_address": {
                "lines": list(profile.address),
                "country": profile.country,
                "postal_code": profile.postal_code,
            },
        },
        "preset": profile.preset,
        "collector_role": "third_party",
        "debt": {
            "amount": f"{100 + i % 900}.50",
            "currency": profile.currency,
            "due_date": "2026-01-15",
            "days_past_due": 30 + i % 60,
            "account_number": f"4111 1111 {i % 10000:04d} 1234",
        },
        "contacts": [
            {"channel": "sms", "address": f"+{profile.phone_base + i}"},
            {"channel": "email", "address": f"debtor{i}@example.com"},
        ],
    }


async def seed(
    database_settings: Any, tenant: str, bodies: list[tuple[str, dict[str, Any]]]
) -> int:
    """Insert many new cases at once, exactly as the case service would store each of them.

    The bodies go through the API's own schema and the service's own field mapping; only the
    per-case round trips are saved (20,000 `PUT /v1/cases` would take longer than the benchmark).
    """
    import sqlalchemy as sa

    from gateway.schemas import CaseIn
    from gateway.services.cases import case_contacts, case_fields
    from gateway.store import new_cases
    from gateway.store.engine import create_engine

    now = datetime.now(UTC)
    engine = create_engine(database_settings)
    try:
        async with engine.begin() as conn:
            for start in range(0, len(bodies), 2000):
                parsed = {
                    ref: CaseIn.model_validate(body) for ref, body in bodies[start : start + 2000]
                }
                await new_cases.insert(
                    conn,
                    tenant,
                    {ref: (case_fields(b), case_contacts(b)) for ref, b in parsed.items()},
                    now,
                )
        # Statistics as a running deployment's autovacuum keeps them: measured is the steady
        # state, not the first minute after an import (the queries that the first minute's
        # plans would slow down are tested on tables not analysed, tests/integration/test_db_writes).
        async with engine.connect() as conn:
            await conn.execute(sa.text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()
    return len(bodies)
