"""Canadian provinces and territories: Canada Post codes, names, civil time zones, and the
province a postal code is in (its first letter, Canada Post's postal districts)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

_AT, _ET, _CT, _MT, _PT = (
    "America/Halifax",
    "America/Toronto",
    "America/Winnipeg",
    "America/Edmonton",
    "America/Vancouver",
)

# Province → zones, by civil time, from zone.tab's comments. Split provinces list every zone in
# use, the safe direction as for US states: Quebec adds Atlantic time for the Magdalen Islands
# and the Lower North Shore, Ontario Central time for the northwest, Saskatchewan Mountain time
# for Lloydminster, British Columbia Mountain time for the Kootenays and the Peace River.
PROVINCE_ZONES: Mapping[str, tuple[str, ...]] = {
    "NL": ("America/St_Johns", "America/Goose_Bay"),
    "NS": (_AT, "America/Glace_Bay"),
    "PE": (_AT,),
    "NB": ("America/Moncton",),
    "QC": (_ET, _AT, "America/Blanc-Sablon"),
    "ON": (_ET, _CT, "America/Atikokan"),
    "MB": (_CT,),
    "SK": ("America/Regina", "America/Swift_Current", _MT),
    "AB": (_MT,),
    "BC": (_PT, _MT, "America/Creston", "America/Dawson_Creek", "America/Fort_Nelson"),
    "YT": ("America/Whitehorse", "America/Dawson"),
    "NT": (_MT, "America/Inuvik"),
    "NU": (
        *("America/Iqaluit", "America/Atikokan", "America/Rankin_Inlet"),
        *("America/Resolute", "America/Cambridge_Bay"),
    ),
}

NAMES: Mapping[str, tuple[str, ...]] = {
    "NL": ("Newfoundland and Labrador", "Terre-Neuve-et-Labrador", "Newfoundland"),
    "NS": ("Nova Scotia", "Nouvelle-Écosse"),
    "PE": ("Prince Edward Island", "Île-du-Prince-Édouard"),
    "NB": ("New Brunswick", "Nouveau-Brunswick"),
    "QC": ("Quebec", "Québec"),
    "ON": ("Ontario",),
    "MB": ("Manitoba",),
    "SK": ("Saskatchewan",),
    "AB": ("Alberta",),
    "BC": ("British Columbia", "Colombie-Britannique"),
    "YT": ("Yukon",),
    "NT": ("Northwest Territories", "Territoires du Nord-Ouest"),
    "NU": ("Nunavut",),
}

# The first letter of a postal code is its postal district; X is shared by NT and NU.
DISTRICTS: Mapping[str, tuple[str, ...]] = {
    "A": ("NL",),
    "B": ("NS",),
    "C": ("PE",),
    "E": ("NB",),
    **dict.fromkeys("GHJ", ("QC",)),
    **dict.fromkeys("KLMNP", ("ON",)),
    "R": ("MB",),
    "S": ("SK",),
    "T": ("AB",),
    "V": ("BC",),
    "X": ("NT", "NU"),
    "Y": ("YT",),
}

# "K1A 0B1" (the space optional); D, F, I, O, Q and U are never used, W and Z never first.
POSTAL_CODE = re.compile(r"^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d$")


def province_code(text: str) -> str | None:
    """The code of a province or territory, given as its code or its English or French name in
    any case ("QC", "qc", "Quebec", "Québec"); None if it names none."""
    return _by_name().get(" ".join(text.split()).casefold())


def postal_provinces(postal_code: str) -> tuple[str, ...]:
    """The provinces a postal code can be in (one, or NT and NU); empty when it is malformed."""
    code = postal_code.upper()
    return DISTRICTS.get(code[0], ()) if POSTAL_CODE.match(code) else ()


@cache
def _by_name() -> dict[str, str]:
    names = {code.casefold(): code for code in NAMES}
    names.update({name.casefold(): code for code, all_names in NAMES.items() for name in all_names})
    return names
