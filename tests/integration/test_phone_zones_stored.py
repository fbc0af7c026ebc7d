"""A phone number's zones are read once, when its contact point is stored, and the policy reads
them from there: deciding a message does not parse the number again (unless the stored reading
came from other numbering data)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from gateway.store.tables import contact_points as CP
from scheduler import zones
from tests.support import ApiClient, case_body

NUMBER = "+12125550147"  # New York


async def _stored(runtime: Any, number: str) -> Any:
    async with runtime.engine.connect() as conn:
        query = sa.select(CP.c.zones).where(CP.c.channel == "sms", CP.c.address == number)
        return (await conn.execute(query)).scalar_one()


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    read = zones._phone

    def counting(number: str) -> tuple[list[str], str]:
        parsed.append(number)
        return read(number)

    monkeypatch.setattr(zones, "_phone", counting)
    monkeypatch.setattr(zones, "_READ", {})  # nothing read by this process before
    return parsed


async def _evaluate(api: ApiClient, ref: str) -> dict[str, Any]:
    resp = await api.post("/v1/policy/evaluate", {"case_ref": ref, "channel": "sms"})
    assert resp.status == 200, resp.body
    return resp.body


async def test_the_zones_stored_with_the_number_are_the_ones_the_policy_uses(
    api: ApiClient, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await api.put("/v1/cases/Z-1", case_body(phone=NUMBER, postal=False))).status == 201
    record = await _stored(runtime, NUMBER)
    assert record == {"data": zones.PHONE_DATA, "zones": ["America/New_York"], "country": ""}
    parsed = _parses(monkeypatch)
    answer = await _evaluate(api, "Z-1")
    assert parsed == []
    phone = [s for s in answer["zone_sources"] if s["source"] == "phone"]
    assert [s["zones"] for s in phone] == [["America/New_York"]]


async def test_a_reading_from_other_numbering_data_is_made_again(
    api: ApiClient, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await api.put("/v1/cases/Z-2", case_body(phone=NUMBER, postal=False))).status == 201
    stale = {"data": "0.0.1", "zones": ["Pacific/Honolulu"], "country": ""}
    async with runtime.engine.begin() as conn:
        await conn.execute(sa.update(CP).where(CP.c.address == NUMBER).values(zones=stale))
    parsed = _parses(monkeypatch)
    answer = await _evaluate(api, "Z-2")
    assert parsed == [NUMBER]
    phone = [s for s in answer["zone_sources"] if s["source"] == "phone"]
    assert [s["zones"] for s in phone] == [["America/New_York"]]
    # The next upsert of the case stores the reading of today's data.
    assert (await api.put("/v1/cases/Z-2", case_body(phone=NUMBER, postal=False))).status == 200
    assert (await _stored(runtime, NUMBER))["data"] == zones.PHONE_DATA


def test_a_malformed_stored_reading_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _parses(monkeypatch)
    for bad in (None, [], {"data": zones.PHONE_DATA, "zones": "America/New_York", "country": ""}):
        zones.remember(NUMBER, bad)
    assert zones.resolve(None, None, [NUMBER], _preset()).zones == ("America/New_York",)
    assert parsed == [NUMBER]


def _preset() -> Any:
    from scheduler.presets import load_presets

    return load_presets()["US-RegF"]
