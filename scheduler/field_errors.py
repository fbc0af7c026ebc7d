"""A pydantic validation error of a preset or cadence file as one line: the field's path
(`steps[0].template`) and what is wrong with it, in the words an operator fixing the file needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Validators' own names that pydantic puts in an error's location: not a field of the file.
_NOT_FIELDS = ("function-after[_one_offset()]", "function-after[_ordered()]")


def path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if part in _NOT_FIELDS:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problem(error: Mapping[str, Any]) -> str:
    if error["type"] == "literal_error":
        expected = str(error["ctx"]["expected"]).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}"
    return str(error["msg"]).removeprefix("Value error, ")
