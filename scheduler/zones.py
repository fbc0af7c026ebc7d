"""Candidate time zones of a recipient (compliance.md §6.4 steps 1–3).

Sources: the consumer-stated IANA zone, the postal address and every phone number. The caller
drops sources older than the preset's `tz.stale_after_days` before calling (no clock here).

Limits, documented rather than hidden:
- Postal addresses narrow by region only for the US (two-letter state codes, `US_STATE_ZONES`);
  elsewhere, and for a US address without a readable state, every zone of the country counts
  (from the tz database's zone.tab). State-level granularity over-includes: a Texas address
  adds Mountain time for El Paso, an Indiana one adds Central time, and so on. That is the safe
  direction, since extra zones only narrow the intersected window.
- A phone number whose prefix maps to no zone ("Etc/Unknown", typical of mobiles in some
  countries) contributes every zone of its country, as §6.4 says for E.164 country codes. So
  does one whose prefix maps only to another country's zone: phonenumbers answers with a zone
  that shares the clock only some of the time, or not at all (Algeria → Europe/Paris, which has
  DST; Nicaragua → America/Chicago; Ireland → Europe/London), and the country's own zones carry
  its real clock and its holidays. A number that cannot be parsed, or whose country is unknown,
  contributes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_tz

from scheduler.presets import Preset

_ET, _CT, _MT, _PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

# State → zones, by the state's civil time, not by county. Split states list every zone in use.
US_STATE_ZONES: Mapping[str, tuple[str, ...]] = {
    **dict.fromkeys(
        [
            "CT",
            "DC",
            "DE",
            "GA",
            "MA",
            "MD",
            "ME",
            "NC",
            "NH",
            "NJ",
            "NY",
            "OH",
            "PA",
            "RI",
            "SC",
            "VA",
            "VT",
            "WV",
        ],
        (_ET,),
    ),
    "FL": (_ET, _CT),  # the western panhandle is Central
    "IN": ("America/Indiana/Indianapolis", _CT),  # NW and SW corners are Central
    "KY": (_ET, _CT),
    "MI": ("America/Detroit", "America/Menominee"),  # four UP counties are Central
    "TN": (_ET, _CT),
    **dict.fromkeys(["AL", "AR", "IA", "IL", "LA", "MN", "MO", "MS", "OK", "WI"], (_CT,)),
    **dict.fromkeys(
        ["KS", "ND", "NE", "SD", "TX"], (_CT, _MT)
    ),  # west parts Mountain (TX: El Paso)
    **dict.fromkeys(["CO", "MT", "NM", "UT", "WY"], (_MT,)),
    "AZ": ("America/Phoenix", _MT),  # no DST, except the Navajo Nation
    "ID": ("America/Boise", _PT),  # the panhandle is Pacific
    "OR": (_PT, "America/Boise"),  # Malheur County is Mountain
    "NV": (_PT, _MT),  # West Wendover is Mountain
    "CA": (_PT,),
    "WA": (_PT,),
    "AK": ("America/Anchorage", "America/Adak"),  # the Aleutians are Hawaii-Aleutian
    "HI": ("Pacific/Honolulu",),
    "PR": ("America/Puerto_Rico",),
    "VI": ("America/St_Thomas",),
    "GU": ("Pacific/Guam",),
    "AS": ("Pacific/Pago_Pago",),
    "MP": ("Pacific/Saipan",),
}

# "Springfield, IL 62701" or "Springfield, IL 62701-1234" at the end of an address line.
_US_CITY_LINE = re.compile(r",\s*([A-Z]{2})\s+\d{5}(?:-\d{4})?\s*$")


def candidate_zones(
    stated_zone: str | None,
    postal: Mapping[str, str] | None,
    phones: Sequence[str],
    preset: Preset,
) -> list[str]:
    """The sorted candidate zones Z of §6.4, or the preset's fallback zones when Z is empty.

    `postal` holds `country` (ISO 3166 alpha-2) and optionally `region` (a US state code) or
    `line` (the "City, ST 12345" line to read the state from). `phones` are E.164 strings.
    Under `consumer_stated_overrides`, a stated zone is the only candidate.
    """
    if stated_zone is not None:
        _check_zone(stated_zone)
        if preset.tz.mode.value == "consumer_stated_overrides":
            return [stated_zone]
    zones: set[str] = {stated_zone} if stated_zone else set()
    if postal:
        zones.update(postal_zones(postal))
    for number in phones:
        zones.update(phone_zones(number))
    return sorted(zones) if zones else preset.fallback_zones


def postal_zones(postal: Mapping[str, str]) -> list[str]:
    """Zones of a postal address: the US state's zones, else every zone of the country."""
    country = (postal.get("country") or "").upper()
    if country == "US":
        state = (postal.get("region") or "").upper()
        if not state and (match := _US_CITY_LINE.search(postal.get("line") or "")):
            state = match.group(1)
        if state in US_STATE_ZONES:
            return list(US_STATE_ZONES[state])
    return list(country_zones(country))


def phone_zones(number: str) -> list[str]:
    """Zones of one E.164 number: its prefix's zones, plus its country's own zones when none of
    those is in its country; none if it cannot be parsed or has no known country."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return []
    zones = [z for z in phone_tz.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    country = phonenumbers.region_code_for_number(parsed) or ""
    if country and not any(zone_country(z) == country for z in zones):
        zones += [z for z in country_zones(country) if z not in zones]
    return zones


# Countries with one legal time whatever the tz database lists: China's is Beijing time, and the
# hours its rules set (08:00–22:00) are Beijing hours. Asia/Urumqi is Xinjiang's unofficial
# UTC+6; counting it for every Chinese address would cut two legal hours from each morning.
LEGAL_TIME: Mapping[str, tuple[str, ...]] = {"CN": ("Asia/Shanghai",)}


def country_zones(country: str) -> tuple[str, ...]:
    """The zones of an ISO country code: its legal time where it has one, else every zone the tz
    database lists for it (empty if unknown)."""
    code = country.upper()
    return LEGAL_TIME.get(code) or _zone_tab()[0].get(code, ())


def zone_country(zone: str) -> str | None:
    """The ISO country code of a zone, or None (e.g. for Etc/UTC)."""
    return _zone_tab()[1].get(OLD_NAMES.get(zone, zone))


# Old names phonenumbers still answers with (Asia/Calcutta for every Indian number…), and the
# zone each one now links to in the tz database's `backward` file; zone.tab knows only the latter.
OLD_NAMES: Mapping[str, str] = {
    "Africa/Asmera": "Africa/Asmara",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Godthab": "America/Nuuk",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Choibalsan": "Asia/Ulaanbaatar",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "Pacific/Enderbury": "Pacific/Kanton",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "Pacific/Truk": "Pacific/Chuuk",
}


@cache
def _zone_tab() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    # zone.tab (not zone1970.tab) gives every zone exactly one country, so both maps are exact.
    text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    by_country: dict[str, list[str]] = {}
    by_zone: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _coords, zone = line.split("\t")[:3]
        by_country.setdefault(country, []).append(zone)
        by_zone[zone] = country
    return {c: tuple(zs) for c, zs in by_country.items()}, by_zone


def _check_zone(zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA zone {zone!r}") from None
