"""US states and territories: USPS codes, names, civil time zones, and the state of a ZIP code.

The ZIP code → state table comes from the `zipcodes` package's bundled data (offline; nothing is
downloaded at run time), loaded once per process on first use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

import zipcodes

_ET, _CT, _MT, _PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

# State → zones, by the state's civil time, not by county. Split states list every zone in use.
STATE_ZONES: Mapping[str, tuple[str, ...]] = {
    **dict.fromkeys(
        [
            *("CT", "DC", "DE", "GA", "MA", "MD", "ME", "NC", "NH", "NJ", "NY"),
            *("OH", "PA", "RI", "SC", "VA", "VT", "WV"),
        ],
        (_ET,),
    ),
    "FL": (_ET, _CT),  # the western panhandle is Central
    "IN": ("America/Indiana/Indianapolis", _CT),  # NW and SW corners are Central
    "KY": (_ET, _CT),
    "MI": ("America/Detroit", "America/Menominee"),  # four UP counties are Central
    "TN": (_ET, _CT),
    **dict.fromkeys(["AL", "AR", "IA", "IL", "LA", "MN", "MO", "MS", "OK", "WI"], (_CT,)),
    # West parts are Mountain (TX: El Paso).
    **dict.fromkeys(["KS", "ND", "NE", "SD", "TX"], (_CT, _MT)),
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
    # The freely associated states are served by USPS with US ZIP codes.
    "FM": ("Pacific/Chuuk", "Pacific/Pohnpei", "Pacific/Kosrae"),
    "MH": ("Pacific/Majuro", "Pacific/Kwajalein"),
    "PW": ("Pacific/Palau",),
}

# Armed Forces mail (APO/FPO/DPO): a real USPS "state", but it says where the post is routed from,
# not where the addressee lives, so it names no time zone.
ARMED_FORCES: Mapping[str, str] = {
    "AA": "Armed Forces Americas",
    "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}

NAMES: Mapping[str, str] = {
    **dict(
        zip(
            (
                *("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID"),
                *("IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO"),
                *("MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA"),
                *("RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY"),
                *("PR", "VI", "GU", "AS", "MP", "FM", "MH", "PW"),
            ),
            (
                *("Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado"),
                *("Connecticut", "Delaware", "District of Columbia", "Florida", "Georgia"),
                *("Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky"),
                *("Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota"),
                *("Mississippi", "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire"),
                *("New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota"),
                *("Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island"),
                *("South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont"),
                *("Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming"),
                *("Puerto Rico", "U.S. Virgin Islands", "Guam", "American Samoa"),
                *("Northern Mariana Islands", "Micronesia", "Marshall Islands", "Palau"),
            ),
            strict=True,
        )
    ),
    **ARMED_FORCES,
}

ZIP_CODE = re.compile(r"^\d{5}(?:-\d{4})?$")


def state_code(text: str) -> str | None:
    """The USPS code of a state, territory or Armed Forces region, given as its code or its
    name in any case ("NY", "ny", "New York"); None if it names none."""
    key = " ".join(text.split()).casefold()
    return _by_name().get(key)


def zip_state(postal_code: str) -> str | None:
    """The USPS state code of a ZIP (or ZIP+4) code, or None when the code is malformed or not
    in the data (a ZIP code newer than the installed `zipcodes`, or none at all)."""
    if not ZIP_CODE.match(postal_code):
        return None
    return _zip_states().get(postal_code[:5])


def warm() -> None:
    """Index the ZIP data now (about 0.6 s of CPU): a worker would otherwise spend it inside the
    first batch that has a US address without a state, holding that batch meanwhile."""
    _zip_states()


@cache
def _by_name() -> dict[str, str]:
    names = {code.casefold(): code for code in NAMES}
    names.update({name.casefold(): code for code, name in NAMES.items()})
    names["virgin islands"] = "VI"
    return names


@cache
def _zip_states() -> dict[str, str]:
    # `zipcodes.matching` re-reads the whole table on every call (~0.25 s): index it once.
    return {z["zip_code"]: z["state"] for z in zipcodes.list_all() if z.get("state")}
