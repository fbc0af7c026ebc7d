"""The recipient's address as printed in the envelope window, from a postal address's fields.

`lines` are the street lines; `city`, `region` and `postal_code` make the locality line in the
order the destination's post expects:

- US: `City, ST 12345`; Canada and Australia: `City QC H2X 1Y4` (Canada Post, Australia Post);
- GB and Ireland: the town, then the county if given, then the postcode, each on its own line;
- elsewhere (most of Europe, Latin America, Asia): `10117 Berlin`, the region on its own line.

An address given as lines only is printed as given, with the postal code on a line of its own
when no line has it yet (a UK letter without its postcode is slow to sort). A letter mailed
abroad ends with the destination's country name in capitals, as the UPU asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import babel

CITY_STATE_ZIP = frozenset({"US"})
CITY_REGION_CODE = frozenset({"CA", "AU"})
LINE_BY_LINE = frozenset({"GB", "IE"})


def block(postal: Mapping[str, Any], sender_country: str | None = None) -> list[str]:
    """The printed lines of `postal` below the recipient's name. With `sender_country`, a
    letter to another country gets the destination's country name as its last line."""
    lines = [str(line).strip() for line in postal.get("lines") or [] if str(line).strip()]
    country = str(postal.get("country") or "")
    city, region, code = (
        str(postal.get(k) or "").strip() for k in ("city", "region", "postal_code")
    )
    if city or region:
        lines += locality(country, city, region, code)
    elif code and not any(code in line for line in lines):
        lines.append(code)
    if sender_country and country and country != sender_country:
        lines.append(country_name(country).upper())
    return lines


def locality(country: str, city: str, region: str, postal_code: str) -> list[str]:
    """The line(s) naming the place, in the destination's order; empty parts are left out."""
    if country in CITY_STATE_ZIP:
        place = " ".join(p for p in (region, postal_code) if p)
        return [", ".join(p for p in (city, place) if p)]
    if country in CITY_REGION_CODE:
        return [" ".join(p for p in (city, region, postal_code) if p)]
    if country in LINE_BY_LINE:
        return [p for p in (city, region, postal_code) if p]
    first = " ".join(p for p in (postal_code, city) if p)
    return [p for p in (first, region) if p]


def country_name(country: str) -> str:
    """The English name of an ISO 3166 country code ("DE" → "Germany"), else the code."""
    return _names().get(country, country)


@cache
def _names() -> dict[str, str]:
    return {str(code): str(name) for code, name in babel.Locale("en").territories.items()}
