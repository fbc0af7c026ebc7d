"""The postal address of a debtor, as the API takes it: street lines, city, region and postal
code, with the regions and postal codes of the countries whose regions decide time zones checked
and kept in the post's own form. Re-exported by `gateway.schemas`."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Annotated

import babel
from pydantic import Field, ValidationInfo, field_validator

from gateway.schemas.types import Strict
from scheduler import ca_provinces, us_states


class PostalAddress(Strict):
    """A postal address: the street `lines`, and `city`, `region` (state, province…) and
    `postal_code` as fields, the shape of Lob's and most address APIs. An address given as
    lines only, its last line "City, ST 12345", keeps working. A US `region` is stored as its
    USPS code ("New York" → "NY"), a Canadian one as its province code; without one, the
    postal code names the state or province for the contact window (scheduler.postal)."""

    lines: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        min_length=1, max_length=6
    )
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    city: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    region: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    postal_code: Annotated[str, Field(max_length=16)] | None = None

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        # The address decides candidate time zones: a code that names no country ("UK") would
        # silently fall back to the preset's zones instead of the debtor's.
        if value not in _countries():
            hint = " (the United Kingdom is GB)" if value == "UK" else ""
            raise ValueError(f"not an ISO 3166-1 alpha-2 country code{hint}")
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Where regions decide the debtor's zones (US states, Canadian provinces) a region must
        # be one the post knows, and is kept as its code: it is also printed on the envelope.
        country = info.data.get("country")
        if value is None or country not in REGIONS:
            return value
        read, problem = REGIONS[country]
        if (code := read(value)) is None:
            raise ValueError(problem)
        return code

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if value is None or country not in POSTAL_CODES:
            return value
        pattern, problem = POSTAL_CODES[country]
        if not pattern.match(value.upper()):
            raise ValueError(problem)
        if country == "CA":  # "k1a0b1" → "K1A 0B1", as Canada Post prints it
            compact = value.upper().replace(" ", "")
            return f"{compact[:3]} {compact[3:]}"
        return value


# Country → (region code of a code or a name, or None; the problem when it is None).
REGIONS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "US": (
        us_states.state_code,
        "not a US state, territory or Armed Forces region: give its USPS code (NY) or its "
        "name (New York)",
    ),
    "CA": (
        ca_provinces.province_code,
        "not a Canadian province or territory: give its code (ON) or its name (Ontario)",
    ),
}
POSTAL_CODES: dict[str, tuple[re.Pattern[str], str]] = {
    "US": (us_states.ZIP_CODE, "a US ZIP code is five digits, or ZIP+4 (12345-6789)"),
    "CA": (ca_provinces.POSTAL_CODE, "a Canadian postal code reads A1A 1A1"),
}


@cache
def _countries() -> frozenset[str]:
    names = babel.Locale("en").territories
    pseudo = {"EU", "EZ", "QO", "UN", "ZZ"}  # groupings and "unknown", not countries
    return frozenset(k for k in map(str, names) if len(k) == 2 and k.isalpha() and k not in pseudo)
