"""The time zones of each country, from the tz database's zone.tab, and the zone → country map.

Where a country has one legal time whatever the tz database lists, that time (`LEGAL_TIME`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources

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
