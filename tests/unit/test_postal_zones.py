"""A postal address's candidate zones: structured fields (city, region, postal_code), the ZIP code
when no state is named, the legacy "City, ST 12345" last line, and why a set is wide (§6.4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest

from scheduler.ca_provinces import postal_provinces, province_code
from scheduler.presets import get_preset
from scheduler.us_states import ARMED_FORCES, STATE_ZONES, state_code, zip_state
from scheduler.zones import candidate_zones, country_zones, postal_source, resolve

ET, CT, MT, PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
US = get_preset("US-RegF")
EVERY_US_ZONE = sorted(country_zones("US"))


def zones(**postal: str) -> list[str]:
    return sorted(postal_source({"country": "US", **postal}).zones)


def test_a_new_york_address_given_as_fields_is_on_eastern_time() -> None:
    source = postal_source(
        {
            "line": "350 5th Ave",
            "city": "New York",
            "region": "NY",
            "postal_code": "10118",
            "country": "US",
        }
    )
    assert source.zones == (ET,) and source.widened == ""
    assert source.basis == "state NY"


def test_the_state_is_read_from_the_zip_code_when_no_region_is_named() -> None:
    # The address of the issue: ["350 5th Ave", "New York"] with postal_code 10118.
    assert zones(line="New York", postal_code="10118") == [ET]
    assert zones(postal_code="10118-0110") == [ET]  # ZIP+4
    assert zones(postal_code="60601") == [CT]
    assert zones(postal_code="79901") == [CT, MT]  # El Paso: Texas counts both of its zones
    assert postal_source({"country": "US", "postal_code": "10118"}).basis == (
        "state NY from ZIP code 10118"
    )


def test_a_region_alone_is_enough() -> None:
    assert zones(region="CA") == [PT]
    assert zones(region="IN") == sorted(["America/Indiana/Indianapolis", CT])


def test_legacy_lines_only_addresses_keep_working() -> None:
    assert zones(line="Springfield, IL 62701") == [CT]
    assert zones(line="Springfield IL 62701-1234") == [CT]
    # A last line with the ZIP code but no state: the ZIP code decides.
    assert zones(line="New York 10118") == [ET]
    assert postal_source({"country": "US", "line": "Springfield, IL 62701"}).basis == (
        "state IL from the last line"
    )


@pytest.mark.parametrize(
    ("postal_code", "zone"),
    [
        ("00901", "America/Puerto_Rico"),
        ("00802", "America/St_Thomas"),
        ("96910", "Pacific/Guam"),
        ("96799", "Pacific/Pago_Pago"),
        ("96950", "Pacific/Saipan"),
        ("96813", "Pacific/Honolulu"),
    ],
)
def test_territories_and_hawaii_resolve_from_their_zip_codes(postal_code: str, zone: str) -> None:
    assert zones(postal_code=postal_code) == [zone]


def test_without_a_region_every_us_zone_counts_and_the_source_says_why() -> None:
    nothing = postal_source({"country": "US", "line": "New York"})
    assert sorted(nothing.zones) == EVERY_US_ZONE
    assert nothing.widened == "the postal address names no state or ZIP code: every US zone counts"
    unknown = postal_source({"country": "US", "postal_code": "00000"})
    assert sorted(unknown.zones) == EVERY_US_ZONE
    assert "ZIP code 00000 is not in the ZIP data" in unknown.widened
    military = postal_source({"country": "US", "region": "AE", "postal_code": "09001"})
    assert sorted(military.zones) == EVERY_US_ZONE
    assert "AE" in military.widened and "Armed Forces" in military.widened


def test_a_region_the_zip_code_contradicts_counts_both_states() -> None:
    source = postal_source({"country": "US", "region": "CA", "postal_code": "10118"})
    assert sorted(source.zones) == sorted([ET, PT])
    assert source.widened == (
        "the postal address names CA but ZIP code 10118 is in NY: both states' zones count"
    )


def test_other_countries_count_every_zone_of_the_country() -> None:
    assert postal_source({"country": "DE"}).zones == ("Europe/Berlin", "Europe/Busingen")
    assert postal_source({"country": "GB"}).widened == ""  # one zone: nothing was widened
    australia = postal_source({"country": "AU", "region": "NSW"})
    assert "every AU zone" in australia.widened


def test_the_resolution_names_each_source_and_the_widened_set() -> None:
    legacy = {"country": "US", "line": "New York", "postal_code": "10118"}
    ny = resolve(None, legacy, ["+12125550123"], US)
    assert ny.zones == (ET,) and ny.note == ""
    assert [(s.kind, s.zones) for s in ny.sources] == [
        ("postal_address", (ET,)),
        ("phone", (ET,)),
    ]
    wide = resolve(None, {"country": "US", "line": "New York"}, [], US)
    assert sorted(wide.zones) == EVERY_US_ZONE
    assert wide.note == "the postal address names no state or ZIP code: every US zone counts"
    fallback = resolve(None, None, [], US)
    assert fallback.zones == tuple(US.fallback_zones)
    assert [s.kind for s in fallback.sources] == ["fallback"]
    assert "fallback" in fallback.note
    # candidate_zones is the same set.
    assert candidate_zones(None, legacy, ["+12125550123"], US) == [ET]


def test_state_codes_and_names() -> None:
    assert state_code("NY") == state_code("ny") == state_code("New York") == "NY"
    assert state_code(" new  york ") == "NY"
    assert state_code("District of Columbia") == "DC"
    assert state_code("Puerto Rico") == "PR"
    assert state_code("XX") is None and state_code("Narnia") is None
    assert zip_state("10118") == "NY" and zip_state("10118-0110") == "NY"
    assert zip_state("00000") is None and zip_state("1011") is None


# --- Canada ---------------------------------------------------------------------------------------

ON_ZONES = sorted(["America/Toronto", "America/Winnipeg", "America/Atikokan"])


def ca(**postal: str) -> list[str]:
    return sorted(postal_source({"country": "CA", **postal}).zones)


def test_a_canadian_address_resolves_to_its_province() -> None:
    assert ca(region="ON", postal_code="K1A 0B1") == ON_ZONES
    assert ca(region="AB") == ["America/Edmonton"]
    assert ca(line="Ottawa ON K1A 0B1") == ON_ZONES
    halifax = postal_source({"country": "CA", "postal_code": "B3H 1A1"})
    assert halifax.basis == "province NS from postal code B3H 1A1" and halifax.widened == ""
    assert ca(postal_code="h2x1y4") == sorted(
        ["America/Toronto", "America/Halifax", "America/Blanc-Sablon"]
    )


def test_a_canadian_postal_code_shared_by_two_territories_counts_both() -> None:
    north = postal_source({"country": "CA", "postal_code": "X0A 0H0"})
    assert {"America/Iqaluit", "America/Inuvik"} <= set(north.zones)
    assert north.widened == "postal code X0A 0H0 is in NT or NU: the zones of each count"


def test_a_province_the_postal_code_contradicts_counts_both() -> None:
    source = postal_source({"country": "CA", "region": "BC", "postal_code": "M5V 2T6"})
    assert {"America/Vancouver", "America/Toronto"} <= set(source.zones)
    assert "names BC but postal code M5V 2T6 is in ON" in source.widened


def test_without_a_province_every_canadian_zone_counts() -> None:
    source = postal_source({"country": "CA", "line": "Ottawa"})
    assert sorted(source.zones) == sorted(country_zones("CA"))
    assert source.widened == (
        "the postal address names no province or postal code: every CA zone counts"
    )


def test_province_codes_names_and_postal_districts() -> None:
    assert province_code("QC") == province_code("quebec") == province_code("Québec") == "QC"
    assert province_code("Colombie-Britannique") == "BC" and province_code("ZZ") is None
    assert postal_provinces("k1a0b1") == ("ON",) and postal_provinces("X0A 0H0") == ("NT", "NU")
    assert postal_provinces("D1A 0B1") == () and postal_provinces("12345") == ()


def test_a_phone_number_that_names_no_zone_of_its_country_says_so() -> None:
    # A Palestinian mobile: phonenumbers names no zone for it, so both of the country's count.
    resolution = resolve(None, None, ["+970599123456"], US)
    assert {"Asia/Gaza", "Asia/Hebron"} <= set(resolution.zones)
    assert resolution.note == "a PS phone number's prefix names no PS zone: every PS zone counts"


def test_every_zip_codes_own_zone_keeps_the_clock_of_one_of_its_states_zones() -> None:
    """The state table against the ZIP data: every state the data knows is in the table, and a
    ZIP code's own zone (where the data has one) never runs a clock its state's zones do not."""
    import zipcodes

    instants = [datetime(2026, month, 15, 12, tzinfo=UTC) for month in (1, 7)]

    def clock(zone: str) -> tuple[Any, ...]:
        return tuple(instant.astimezone(ZoneInfo(zone)).utcoffset() for instant in instants)

    known = available_timezones()
    states = {z["state"] for z in zipcodes.list_all()}
    assert states <= set(STATE_ZONES) | set(ARMED_FORCES), states - set(STATE_ZONES)
    odd = {
        (z["state"], z["timezone"])
        for z in zipcodes.list_all()
        if z["state"] in STATE_ZONES
        and z["timezone"] in known
        and clock(z["timezone"]) not in {clock(zone) for zone in STATE_ZONES[z["state"]]}
    }
    assert not odd
