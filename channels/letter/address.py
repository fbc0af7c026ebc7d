"""The recipient's address as printed in the envelope window, from a postal address's fields.

`lines` are the street lines; `city`, `region` and `postal_code` make the locality line in the
order the destination's post expects:

- US: `City, ST 12345`; Canada and Australia: `City QC H2X 1Y4` (Canada Post, Australia Post);
- GB and Ireland: the town, then the county if given, then the postcode, each on its own line;
- elsewhere (most of Europe, Latin America, Asia): `10117 Berlin`, the region on its own line.

An address given as lines only is printed as given, with the postal code on a line of its own
when no line has it yet (a UK letter without its postcode is slow to sort). A letter mailed
abroad ends with the destination's country name in capitals, as the UPU asks.

The same fields, mapped onto a print-and-mail API's separate address fields instead of printed
lines: `lob_address`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import babel

CITY_STATE_ZIP = frozenset({"US"})
CITY_REGION_CODE = frozenset({"CA", "AU"})
LINE_BY_LINE = frozenset({"GB", "IE"})
US_LAST_LINE = re.compile(
    r"^(?:(?P<city>.+?),?\s+)?(?P<state>[A-Z]{2})\s+(?P<zip>\d{5}(?:-\d{4})?)$"
)
_DIGIT = re.compile(r"\d")


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


def lob_address(
    name: str,
    lines: list[str],
    country: str,
    postal_code: str | None = None,
    *,
    city: str | None = None,
    region: str | None = None,
) -> dict[str, str]:
    """A postal address as Lob's address fields (`name`, `address_line1`, `address_line2`,
    `address_city`, `address_state`, `address_zip`, `address_country`; empty ones left out).

    - With `city` or `region` given: the first line is `address_line1`, the rest joined with ", "
      is `address_line2`, and `city`, `region`, `postal_code` are `address_city`,
      `address_state`, `address_zip` (a US address without a region comes with its ZIP code's
      state already filled in).
    - Lines only, US: the last line is read as `City, ST 12345` (or `ST 12345` with the city on
      the line before) into `address_city`, `address_state`, `address_zip`; the lines before it
      become `address_line1` and `address_line2`. A last line without digits, with a
      `postal_code` given, is the city (`["350 5th Ave", "New York"]`).
    - Lines only, elsewhere (and a US address whose last line reads neither way): the first line
      is `address_line1`, the rest joined with ", " is `address_line2`, `postal_code` is
      `address_zip`.
    """
    rest = [line.strip() for line in lines if line and line.strip()]
    fields = {"name": name, "address_country": country}
    if city or region:
        fields.update(address_city=city or "", address_state=region or "")
    elif country == "US" and rest and (match := US_LAST_LINE.match(rest[-1])):
        rest.pop()
        city = match["city"] or (rest.pop() if len(rest) > 1 else "")
        fields.update(address_city=city, address_state=match["state"], address_zip=match["zip"])
    elif country == "US" and postal_code and len(rest) > 1 and not _DIGIT.search(rest[-1]):
        fields["address_city"] = rest.pop()  # ["350 5th Ave", "New York"]: the city alone
    if rest:
        fields["address_line1"] = rest[0]
    if len(rest) > 1:
        fields["address_line2"] = ", ".join(rest[1:])
    if postal_code and "address_zip" not in fields:
        fields["address_zip"] = postal_code
    return {key: value for key, value in fields.items() if value}


def country_name(country: str) -> str:
    """The English name of an ISO 3166 country code ("DE" → "Germany"), else the code."""
    return _names().get(country, country)


@cache
def _names() -> dict[str, str]:
    return {str(code): str(name) for code, name in babel.Locale("en").territories.items()}
