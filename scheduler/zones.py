"""Candidate time zones of a recipient (compliance.md §6.4 steps 1–3).

Sources: the consumer-stated IANA zone, the postal address and every phone number. The caller
drops sources older than the preset's `tz.stale_after_days` before calling (no clock here).

Limits, documented rather than hidden:
- Postal addresses narrow by region only for the US (states, from the `region` field, the
  "City, ST 12345" last line, or else the ZIP code) and Canada (provinces, likewise from the
  postal code): `scheduler.postal`. Elsewhere, and for an address that names no region, every
  zone of the country counts (from the tz database's zone.tab), and the source says so
  (`Source.widened`), so an explanation can name the wide set and why. Region-level
  granularity over-includes: a Texas address adds Mountain time for El Paso, an Indiana one
  adds Central time, and so on. That is the safe direction, since extra zones only narrow the
  intersected window.
- A phone number whose prefix maps to no zone ("Etc/Unknown", typical of mobiles in some
  countries) contributes every zone of its country, as §6.4 says for E.164 country codes. So
  does one whose prefix maps only to another country's zone: phonenumbers answers with a zone
  that shares the clock only some of the time, or not at all (Algeria → Europe/Paris, which has
  DST; Nicaragua → America/Chicago; Ireland → Europe/London), and the country's own zones carry
  its real clock and its holidays. A number that cannot be parsed, or whose country is unknown,
  contributes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_tz

from scheduler.countries import LEGAL_TIME, OLD_NAMES, country_zones, zone_country
from scheduler.postal import place
from scheduler.presets import Preset
from scheduler.us_states import STATE_ZONES

__all__ = [
    "LEGAL_TIME",
    "OLD_NAMES",
    "US_STATE_ZONES",
    "Resolution",
    "Source",
    "candidate_zones",
    "country_zones",
    "PHONE_DATA",
    "phone_record",
    "phone_zones",
    "remember",
    "postal_source",
    "postal_zones",
    "resolve",
    "zone_country",
]

# Kept under its old name: the state table lives with the other US postal data.
US_STATE_ZONES = STATE_ZONES


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

    `postal` holds `country` (ISO 3166 alpha-2) and optionally `region` (a state or province
    code), `postal_code` and `line` (the last address line, read for "City, ST 12345" when the
    others do not say it); see `scheduler.postal`. `phones` are E.164 strings. Under
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
    sources += [source for number in phones if (source := _phone_source(number))]
    zones = sorted({zone for source in sources for zone in source.zones})
    if not zones:
        fallback = tuple(preset.fallback_zones)
        widened = (
            "no stated zone, address or phone number names a zone: the preset's fallback zones"
        )
        return Resolution(fallback, (Source("fallback", fallback, "the preset", widened),))
    return Resolution(tuple(zones), tuple(sources))


def postal_zones(postal: Mapping[str, str | None]) -> list[str]:
    """Zones of a postal address: its state's or province's zones, else every zone of the
    country."""
    return list(postal_source(postal).zones)


def postal_source(postal: Mapping[str, str | None]) -> Source:
    """The zones of a postal address and how they were read (`scheduler.postal`)."""
    found = place(postal)
    return Source("postal_address", found.zones, found.basis, found.widened)


def phone_zones(number: str) -> list[str]:
    """Zones of one E.164 number: its prefix's zones, plus its country's own zones when none of
    those is in its country; none if it cannot be parsed or has no known country."""
    return _phone(number)[0]


# The numbering data a stored reading was made from: another phonenumbers release may read a
# prefix differently, so its readings are made again.
PHONE_DATA = phonenumbers.__version__

_READ: dict[str, tuple[list[str], str]] = {}


def phone_record(number: str) -> dict[str, object]:
    """What is stored with a phone's contact point: its zones and the country whose every zone
    was added, as `_phone` reads them, and the numbering data they were read from."""
    zones, country = _phone(number)
    return {"data": PHONE_DATA, "zones": zones, "country": country}


def remember(number: str, record: object) -> None:
    """Take a stored reading of `number` (`phone_record`) as its reading for this process, unless
    it was made from other numbering data (then the number is parsed again when needed)."""
    if not isinstance(record, dict) or record.get("data") != PHONE_DATA:
        return
    zones, country = record.get("zones"), record.get("country")
    if (
        isinstance(zones, list)
        and all(isinstance(z, str) for z in zones)
        and isinstance(country, str)
    ):
        if len(_READ) > 65536:
            _READ.clear()
        _READ[number] = (zones, country)


def _phone_source(number: str) -> Source | None:
    found, country = _READ.get(number) or _phone(number)
    if not found:
        return None
    why = ""
    if country and len(country_zones(country)) > 1:
        why = f"a {country} phone number's prefix names no {country} zone: "
        why += f"every {country} zone counts"
    return Source("phone", tuple(found), "a phone number's prefix", why)


def _phone(number: str) -> tuple[list[str], str]:
    """`phone_zones`, and the country whose every zone was added ("" when none was)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return [], ""
    zones = [z for z in phone_tz.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    country = phonenumbers.region_code_for_number(parsed) or ""
    if country and not any(zone_country(z) == country for z in zones):
        return zones + [z for z in country_zones(country) if z not in zones], country
    return zones, ""


def _check_zone(zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA zone {zone!r}") from None
