"""Environment variable text → typed values, by the annotation of the `Settings` field that names
the variable. Nothing here reads the environment: `Settings.from_env` does, and passes each raw
string in."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def convert(annotation: Any, raw: str, default: Any = None) -> Any:
    """The typed value of one variable; ValueError says what is wrong with `raw` and the fix
    (an example: the default)."""
    kind = str(annotation)
    if kind.startswith("bool"):
        return _bool(raw)
    if kind.startswith("int"):
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError(f"is not a whole number; write one, e.g. {default}") from None
    if kind.startswith("float"):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"is not a number; write one, e.g. {default}") from None
        if not math.isfinite(value):
            raise ValueError(f"is not a finite number; write one, e.g. {default}")
        return value
    if kind.startswith("list"):
        return _list(raw)
    if kind.startswith("Path"):
        return Path(raw)
    return raw


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("is not a boolean; use true or false")


def _list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]
