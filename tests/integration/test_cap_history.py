"""Which history the caps see: every case of the same debtor, matched by phone number or email
address (never through a third party's number), as far back as the longest cap of any loaded
preset needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from scheduler.caps import lookback
from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder

HANDED_OVER = ("sent", "delivered")


def test_the_lookback_is_the_longest_cap_window(runtime: Any) -> None:
    assert runtime.cap_lookback == lookback(runtime.cap_policies.values())
    assert runtime.cap_lookback == timedelta(days=45)  # TEST-LETTERS-45 among the test presets


async def test_a_letter_40_days_after_the_last_waits_for_the_45_day_interval(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(at("2026-10-01T10:00:00+00:00"))
    await api.put("/v1/cases/L-45", case_body(preset="TEST-LETTERS-45"))
    first = await api.post("/v1/reminders", reminder("L-45", "letter", key="first"))
    await drain(runtime)
    assert (await api.get(f"/v1/messages/{first.body['id']}")).body["state"] in HANDED_OVER
    clock.advance(days=40)
    second = await api.post("/v1/reminders", reminder("L-45", "letter", key="second"))
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{second.body['id']}")).body
    # Five more days is past the 48 h maximum deferral: dropped with the cap named.
    assert got["state"] == "expired", got["state_reason"]
    assert "cap.letter" in got["state_reason"]


async def test_a_debtor_is_one_person_across_cases_by_phone_or_email_not_through_third_parties(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(at("2026-11-24T15:00:00+00:00"))
    # Two cases of one debtor that share only an email address.
    await api.put("/v1/cases/H-1", case_body(preset="TEST-CAPS", phone="+14155550101"))
    await api.put("/v1/cases/H-2", case_body(preset="TEST-CAPS", phone="+14155550102"))
    # Someone else whose case lists H-1's number as an emergency contact.
    other = case_body(preset="TEST-CAPS", phone="+14155550103", email="sam@example.com")
    other["contacts"].append({"channel": "sms", "address": "+14155550101", "role": "third_party"})
    await api.put("/v1/cases/H-3", other)

    first = await api.post("/v1/reminders", reminder("H-1", "email"))
    await drain(runtime)
    assert (await api.get(f"/v1/messages/{first.body['id']}")).body["state"] in HANDED_OVER
    clock.advance(minutes=30)
    same_person = await api.post("/v1/reminders", reminder("H-2", "sms"))
    someone_else = await api.post("/v1/reminders", reminder("H-3", "sms"))
    await drain(runtime)
    capped = (await api.get(f"/v1/messages/{same_person.body['id']}")).body
    assert capped["state"] == "deferred" and capped["waiting"]["rule"] == "cap.min_gap"
    other_got = (await api.get(f"/v1/messages/{someone_else.body['id']}")).body
    assert other_got["state"] in HANDED_OVER
