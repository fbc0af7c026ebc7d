"""Candidate time zones of a recipient (compliance.md §6.4 steps 1–3).

Sources: the consumer-stated IANA zone, the postal address and every phone number. The caller
drops sources older than the preset's `tz.stale_after_days` before calling (no clock here).

Limits, documented rather than hidden:
- Postal addresses narrow by region only for the US: the state comes from the `region` field, the
  "City, ST 12345" last line of a lines-only address, or else the ZIP code (`postal_source`).
  Elsewhere, and for a US address that names no state and no known ZIP code, every zone of the
  country counts (from the tz database's zone.tab), and the source says so (`Source.widened`),
  so an explanation can name the wide set and why. State-level granularity over-includes: a
  Texas address adds Mountain time for El Paso, an Indiana one adds Central time, and so on.
  That is the safe direction, since extra zones only narrow the intersected window.
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
from dataclasses import dataclass
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_tz

from scheduler.presets import Preset
from scheduler.us_states import ARMED_FORCES, STATE_ZONES, zip_state

# Kept under its old name: the state table lives with the other US postal data.
US_STATE_ZONES = STATE_ZONES

# "Springfield, IL 62701", "Springfield IL 62701-1234" or "New York 10118": the state (if any) and
# the ZIP code at the end of the last address line of a lines-only address.
_US_LAST_LINE = re.compile(r"(?:^|[,\s])(?:([A-Z]{2})\s+)?(\d{5}(?:-\d{4})?)\s*$")


@dataclass(frozen=True, slots=True)
class Source:
    """One source of candidate zones and how it was read."""

    kind: str  # "stated", "postal_address", "phone" or "fallback"
    zones: tuple[str, ...]
    basis: str  # e.g. "state NY from ZIP code 10118"
    # Why this source counts more zones than one place has (the window narrows for each), or "".
    widened: str = ""


@dataclass(frozen=True, slots=True)
class Resolution:
    """The candidate zones Z of §6.4 and the sources they came from."""

    zones: tuple[str, ...]
    sources: tuple[Source, ...]

    @property
    def note(self) -> str:
        """Why the set is wider than the debtor's one place: for the evaluate answer and the
        timeline entry of a deferral; "" when no source was widened."""
        return "; ".join(s.widened for s in self.sources if s.widened)


def candidate_zones(
    stated_zone: str | None,
    postal: Mapping[str, str | None] | None,
    phones: Sequence[str],
    preset: Preset,
) -> list[str]:
    """The sorted candidate zones Z of §6.4, or the preset's fallback zones when Z is empty."""
    return list(resolve(stated_zone, postal, phones, preset).zones)


def resolve(
    stated_zone: str | None,
    postal: Mapping[str, str | None] | None,
    phones: Sequence[str],
    preset: Preset,
) -> Resolution:
    """Candidate zones with their sources (§6.4 steps 1–3).

    `postal` holds `country` (ISO 3166 alpha-2) and optionally `region` (a US state code),
    `postal_code` and `line` (the last address line, read for "City, ST 12345" when neither of
    the others says it); see `postal_source`. `phones` are E.164 strings. Under
    `consumer_stated_overrides`, a stated zone is the only candidate.
    """
    sources: list[Source] = []
    if stated_zone is not None:
        _check_zone(stated_zone)
        sources.append(Source("stated", (stated_zone,), "the debtor's stated time zone"))
        if preset.tz.mode.value == "consumer_stated_overrides":
            return Resolution((stated_zone,), tuple(sources))
    if postal:
        sources.append(postal_source(postal))
    for number in phones:
        if found := phone_zones(number):
            sources.append(Source("phone", tuple(found), "a phone number's prefix"))
    zones = sorted({zone for source in sources for zone in source.zones})
    if not zones:
        fallback = tuple(preset.fallback_zones)
        widened = (
            "no stated zone, address or phone number names a zone: the preset's fallback zones"
        )
        return Resolution(fallback, (Source("fallback", fallback, "the preset", widened),))
    return Resolution(tuple(zones), tuple(sources))


def postal_zones(postal: Mapping[str, str | None]) -> list[str]:
    """Zones of a postal address: the US state's zones, else every zone of the country."""
    return list(postal_source(postal).zones)


def postal_source(postal: Mapping[str, str | None]) -> Source:
    """The zones of a postal address and how they were read.

    US: the `region` (a state code), else the state the last line names, else the state of the
    ZIP code (`postal_code`, else the one on the last line). A region the ZIP code contradicts
    counts both states: one of them is wrong, or the ZIP code crosses a state line, and the
    larger set is the safe direction. Without a state, and for an Armed Forces address (which
    names no place), every US zone counts. Elsewhere every zone of the country counts.
    """
    country = (postal.get("country") or "").upper()
    if country == "US":
        return _us_source(postal)
    zones = country_zones(country)
    widened = f"addresses in {country} are not read by region: every {country} zone counts"
    return Source("postal_address", zones, f"country {country}", widened if len(zones) > 1 else "")


def _us_source(postal: Mapping[str, str | None]) -> Source:
    region, zip_code = _us_region_and_zip(postal)
    from_zip = (zip_state(zip_code) if zip_code else None) or ""
    if region in STATE_ZONES:
        basis = f"state {region}" if postal.get("region") else f"state {region} from the last line"
        if from_zip not in STATE_ZONES or from_zip == region:
            return Source("postal_address", STATE_ZONES[region], basis)
        both = tuple(dict.fromkeys((*STATE_ZONES[region], *STATE_ZONES[from_zip])))
        why = f"the postal address names {region} but ZIP code {zip_code} is in {from_zip}"
        return Source("postal_address", both, basis, f"{why}: both states' zones count")
    if not region and from_zip in STATE_ZONES:
        basis = f"state {from_zip} from ZIP code {zip_code}"
        return Source("postal_address", STATE_ZONES[from_zip], basis)
    if armed := ARMED_FORCES.get(region or from_zip):
        why = f"an {armed} ({region or from_zip}) address names no place"
    elif zip_code and not from_zip:
        why = f"the postal address names no state and ZIP code {zip_code} is not in the ZIP data"
    else:
        why = "the postal address names no state or ZIP code"
    return Source(
        "postal_address", country_zones("US"), "country US", f"{why}: every US zone counts"
    )


def _us_region_and_zip(postal: Mapping[str, str | None]) -> tuple[str, str]:
    """The state code and ZIP code a US address gives, from its fields or else its last line."""
    region = (postal.get("region") or "").upper()
    zip_code = postal.get("postal_code") or ""
    if (not region or not zip_code) and (match := _US_LAST_LINE.search(postal.get("line") or "")):
        region = region or (match.group(1) or "")
        zip_code = zip_code or match.group(2)
    return region, zip_code


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
