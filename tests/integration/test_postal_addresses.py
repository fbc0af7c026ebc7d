"""Structured postal addresses through the API: city, region and postal_code decide the debtor's
zones (a New York debtor is reachable at 08:00 Eastern), bad fields are a 422 naming the field,
and an address that names no region says so on the evaluate answer and the timeline."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder

ET = "America/New_York"
EIGHT_EASTERN = "2026-12-01T08:00:00-05:00"  # winter: 05:00 in Los Angeles, 03:00 in Honolulu


def ny_case(postal: dict[str, Any]) -> dict[str, Any]:
    # A Manhattan mobile number: its prefix is Eastern too, so only the address can widen the set.
    body = case_body(preset="US-RegF", phone="+12125550123", email=None)
    body["debtor"]["postal_address"] = postal
    return body


async def evaluate(api: ApiClient, case_ref: str, when: str = EIGHT_EASTERN) -> dict[str, Any]:
    resp = await api.post(
        "/v1/policy/evaluate", {"case_ref": case_ref, "channel": "sms", "at": when}
    )
    assert resp.status == 200, resp.body
    return resp.body


@pytest.mark.parametrize(
    "postal",
    [
        {
            "lines": ["350 5th Ave"],
            "city": "New York",
            "region": "NY",
            "postal_code": "10118",
            "country": "US",
        },
        # Lines only, as before: the ZIP code names the state.
        {"lines": ["350 5th Ave", "New York"], "postal_code": "10118", "country": "US"},
        {"lines": ["350 5th Ave"], "city": "New York", "postal_code": "10118", "country": "US"},
        {"lines": ["350 5th Ave"], "city": "New York", "region": "new york", "country": "US"},
    ],
    ids=["fields", "lines-and-zip", "city-and-zip", "region-by-name"],
)
async def test_a_new_york_debtor_is_reachable_at_eight_eastern(
    api: ApiClient, postal: dict[str, Any]
) -> None:
    assert (await api.put("/v1/cases/A-1", ny_case(postal))).status == 201
    answer = await evaluate(api, "A-1")
    assert answer["decision"] == "allow", answer
    assert answer["zones"] == [ET] and answer["zones_note"] is None
    assert {s["source"] for s in answer["zone_sources"]} == {"postal_address", "phone"}
    [address] = [s for s in answer["zone_sources"] if s["source"] == "postal_address"]
    assert address["zones"] == [ET] and address["basis"].startswith("state NY")


async def test_the_fields_are_stored_normalized_and_read_back(api: ApiClient) -> None:
    postal = {"lines": ["350 5th Ave"], "city": "New York", "region": "New York", "country": "US"}
    await api.put("/v1/cases/A-2", ny_case({**postal, "postal_code": "10118-0110"}))
    stored = (await api.get("/v1/cases/A-2")).body["debtor"]["postal_address"]
    assert stored == {**postal, "region": "NY", "postal_code": "10118-0110"}
    legacy = {"lines": ["1 Main St", "Albany, NY 12207"], "country": "US", "postal_code": "12207"}
    await api.put("/v1/cases/A-3", ny_case(legacy))
    assert (await api.get("/v1/cases/A-3")).body["debtor"]["postal_address"] == legacy


async def test_an_address_without_a_region_names_the_wide_set_and_why(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    postal = {"lines": ["350 5th Ave", "New York"], "country": "US"}
    await api.put("/v1/cases/A-4", ny_case(postal))
    answer = await evaluate(api, "A-4")
    why = "the postal address names no state or ZIP code: every US zone counts"
    assert answer["decision"] == "defer" and answer["zones_note"] == why
    assert {"Pacific/Honolulu", "America/Adak", ET} <= set(answer["zones"])
    [address] = [s for s in answer["zone_sources"] if s["source"] == "postal_address"]
    assert address["widened"] == why

    clock.set(at(EIGHT_EASTERN))
    sms = await api.post("/v1/reminders", reminder("A-4", "sms"))
    await drain(runtime)
    assert (await api.get(f"/v1/messages/{sms.body['id']}")).body["state"] == "deferred"
    entries = (await api.get("/v1/cases/A-4/timeline")).body["entries"]
    [deferred] = [e["data"] for e in entries if e["kind"] == "deferred"]
    assert deferred["rule"] == "window.sms" and deferred["zones_note"] == why


async def test_a_region_the_zip_code_contradicts_counts_both_states(api: ApiClient) -> None:
    postal = {"lines": ["350 5th Ave"], "city": "New York", "region": "CA", "postal_code": "10118"}
    await api.put("/v1/cases/A-5", ny_case({**postal, "country": "US"}))
    answer = await evaluate(api, "A-5", "2026-12-01T11:00:00-05:00")  # 08:00 in Los Angeles
    assert answer["decision"] == "allow"
    assert set(answer["zones"]) == {ET, "America/Los_Angeles"}
    assert "names CA but ZIP code 10118 is in NY" in answer["zones_note"]
    assert (await evaluate(api, "A-5"))["decision"] == "defer"


BAD = {
    "unknown-state-code": ({"region": "ZZ"}, "region"),
    "unknown-state-name": ({"region": "Narnia"}, "region"),
    "zip-four-digits": ({"postal_code": "1011"}, "postal_code"),
    "zip-plus-one": ({"postal_code": "10118-1"}, "postal_code"),
    "empty-city": ({"city": ""}, "city"),
    "long-region": ({"region": "x" * 101}, "region"),
}


BAD_CA = {
    "unknown-province": ({"region": "ZZ"}, "region"),
    "zip-code-in-canada": ({"postal_code": "12345"}, "postal_code"),
    "unused-letter": ({"postal_code": "D1A 0B1"}, "postal_code"),
}


@pytest.mark.parametrize(
    ("country", "fields", "field"),
    [("US", *bad) for bad in BAD.values()] + [("CA", *bad) for bad in BAD_CA.values()],
    ids=[*BAD, *(f"ca-{name}" for name in BAD_CA)],
)
async def test_a_bad_field_is_a_422_naming_it_and_changes_nothing(
    api: ApiClient, country: str, fields: dict[str, str], field: str
) -> None:
    postal = {"lines": ["350 5th Ave"], "city": "New York", "country": country, **fields}
    resp = await api.put("/v1/cases/A-6", ny_case(postal))
    assert resp.status == 422, resp.body
    [detail] = resp.body["error"]["details"]
    assert detail["field"] == f"debtor.postal_address.{field}"
    assert detail["type"] != "extra_forbidden", detail  # a known field, checked
    assert (await api.get("/v1/cases/A-6")).status == 404


async def test_other_countries_keep_their_own_postal_codes_and_regions(api: ApiClient) -> None:
    postal = {
        "lines": ["10 Downing Lane"],
        "city": "London",
        "region": "Greater London",
        "postal_code": "SW1A 2AA",
        "country": "GB",
    }
    assert (await api.put("/v1/cases/A-7", ny_case(postal))).status == 201
    assert (await api.get("/v1/cases/A-7")).body["debtor"]["postal_address"] == postal


async def test_a_canadian_address_is_stored_normalized_and_read_by_province(
    api: ApiClient,
) -> None:
    postal = {"lines": ["111 Wellington St"], "city": "Ottawa", "region": "Ontario"}
    body = case_body(preset="US-RegF", phone="+16135550123", email=None)
    body["debtor"]["postal_address"] = {**postal, "postal_code": "k1a0a9", "country": "CA"}
    assert (await api.put("/v1/cases/A-8", body)).status == 201
    stored = (await api.get("/v1/cases/A-8")).body["debtor"]["postal_address"]
    assert (stored["region"], stored["postal_code"]) == ("ON", "K1A 0A9")
    answer = await evaluate(api, "A-8")
    [address] = [s for s in answer["zone_sources"] if s["source"] == "postal_address"]
    assert address["basis"] == "province ON" and "America/Vancouver" not in answer["zones"]
