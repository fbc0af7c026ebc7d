"""Where a postal address is, as time zones: its region's zones where the country is read by
region (US states, Canadian provinces), else every zone of its country; and why, when wide.

A region is read from the `region` field, else from the last address line of a lines-only
address ("Springfield, IL 62701", "Ottawa ON K1A 0B1"), else from the postal code (the ZIP
code's state from the `zipcodes` data, the province of a Canadian postal district). A region
the postal code contradicts counts both: one of them is wrong, or the code crosses a border,
and more zones is the safe direction (they only narrow the intersected window).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from scheduler import ca_provinces, us_states
from scheduler.countries import country_zones


@dataclass(frozen=True, slots=True)
class Place:
    zones: tuple[str, ...]
    basis: str  # how the zones were read, e.g. "state NY from ZIP code 10118"
    widened: str = ""  # why they are more than one place's, or ""


@dataclass(frozen=True, slots=True)
class Regions:
    """How one country's addresses are read by region."""

    country: str
    region: str  # what a region is called: "state", "province"
    regions: str
    code: str  # what a postal code is called: "ZIP code", "postal code"
    zones: Mapping[str, tuple[str, ...]]
    of_code: Callable[[str], tuple[str, ...]]  # the regions a well-formed postal code is in
    unknown: str  # why a postal code names no region: "is not in the ZIP data"
    last_line: re.Pattern[str]  # (region?, postal code) at the end of the last line
    nowhere: Mapping[str, str] = field(default_factory=dict)  # regions that name no place


def _zip_states(code: str) -> tuple[str, ...]:
    state = us_states.zip_state(code)
    return (state,) if state else ()


BY_REGION: Mapping[str, Regions] = {
    "US": Regions(
        "US",
        "state",
        "states",
        "ZIP code",
        us_states.STATE_ZONES,
        _zip_states,
        "is not in the ZIP data",
        re.compile(r"(?:^|[,\s])(?:([A-Z]{2})\s+)?(\d{5}(?:-\d{4})?)\s*$"),
        us_states.ARMED_FORCES,
    ),
    "CA": Regions(
        "CA",
        "province",
        "provinces",
        "postal code",
        ca_provinces.PROVINCE_ZONES,
        ca_provinces.postal_provinces,
        "is not a Canadian postal code",
        re.compile(r"(?:^|[,\s])(?:([A-Z]{2})\s+)?([A-Z]\d[A-Z] ?\d[A-Z]\d)\s*$"),
    ),
}


def place(postal: Mapping[str, str | None]) -> Place:
    """The zones of a postal address: `country` (ISO 3166 alpha-2) and optionally `region`,
    `postal_code` and `line` (its last address line)."""
    country = (postal.get("country") or "").upper()
    if (rules := BY_REGION.get(country)) is not None:
        return _by_region(rules, postal)
    zones = country_zones(country)
    widened = f"addresses in {country} are not read by region: every {country} zone counts"
    return Place(zones, f"country {country}", widened if len(zones) > 1 else "")


def _by_region(c: Regions, postal: Mapping[str, str | None]) -> Place:
    region, code, from_line = _region_and_code(c, postal)
    of_code = c.of_code(code) if code else ()
    known = tuple(r for r in of_code if r in c.zones)
    if region in c.zones:
        basis = f"{c.region} {region}" + (" from the last line" if from_line else "")
        if not known or region in known:
            return Place(c.zones[region], basis)
        why = f"the postal address names {region} but {c.code} {code} is in {'/'.join(known)}"
        zones = _union(c, (region, *known))
        return Place(zones, basis, f"{why}: both {c.regions}' zones count")
    if not region and known:
        basis = f"{c.region} {'/'.join(known)} from {c.code} {code}"
        if len(known) == 1:
            return Place(c.zones[known[0]], basis)
        why = f"{c.code} {code} is in {' or '.join(known)}: the zones of each count"
        return Place(_union(c, known), basis, why)
    if name := c.nowhere.get(region or (of_code[0] if of_code else "")):
        why = f"an {name} ({region or of_code[0]}) address names no place"
    elif code and not of_code:
        why = f"the postal address names no {c.region} and {c.code} {code} {c.unknown}"
    else:
        why = f"the postal address names no {c.region} or {c.code}"
    every = country_zones(c.country)
    return Place(every, f"country {c.country}", f"{why}: every {c.country} zone counts")


def _region_and_code(c: Regions, postal: Mapping[str, str | None]) -> tuple[str, str, bool]:
    """(region, postal code, whether the region came from the last line)."""
    region = (postal.get("region") or "").strip().upper()
    code = (postal.get("postal_code") or "").strip().upper()
    from_line = False
    if (not region or not code) and (match := c.last_line.search(postal.get("line") or "")):
        from_line = not region and bool(match.group(1))
        region = region or (match.group(1) or "")
        code = code or match.group(2)
    return region, code, from_line


def _union(c: Regions, regions: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(zone for r in regions for zone in c.zones[r]))
