"""Recognising required content blocks in rendered text, from the data in `content_blocks.yaml`.

A detector is data: per locale, a list of alternatives, each a regular expression or a list of
expressions that must all match. Presets may add alternatives or whole blocks
(`content.detectors`). Patterns are compiled once per process (per collector name and phone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).with_name("content_blocks.yaml")
ANY = "any"
_PLACEHOLDER = re.compile(r"\{(collector|phone)\}")

# locale key → alternatives; an alternative is a tuple of patterns that must all match.
Detector = dict[str, list[tuple[str, ...]]]


def normalize(raw: Mapping[str, Any], where: str) -> Detector:
    """A detector from its data form; ValueError naming `where` when a pattern is malformed."""
    out: Detector = {}
    for locale, alternatives in raw.items():
        if not isinstance(alternatives, list) or not alternatives:
            raise ValueError(f"{where}.{locale}: must be a non-empty list of patterns")
        out[str(locale)] = []
        for i, alt in enumerate(alternatives):
            patterns = tuple(alt) if isinstance(alt, list) else (alt,)
            if not patterns or not all(isinstance(p, str) and p for p in patterns):
                raise ValueError(f"{where}.{locale}[{i}]: a pattern is a non-empty string")
            for pattern in patterns:
                try:
                    re.compile(_PLACEHOLDER.sub("x", pattern))
                except re.error as exc:
                    raise ValueError(
                        f"{where}.{locale}[{i}]: bad pattern {pattern!r}: {exc}"
                    ) from None
            out[str(locale)].append(patterns)
    return out


def _load() -> dict[str, Detector]:
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return {block: normalize(spec, block) for block, spec in raw.items()}


BUILTIN: dict[str, Detector] = _load()
BLOCKS: frozenset[str] = frozenset(BUILTIN)


def _applies(key: str, locale: str) -> bool:
    return key in (ANY, locale) or locale.startswith(f"{key}-")


def alternatives(
    block: str, locale: str, extra: Mapping[str, Detector] | None = None
) -> list[tuple[str, ...]]:
    """Every alternative that recognises `block` in `locale` (built-in, then the preset's)."""
    found: list[tuple[str, ...]] = []
    for source in (BUILTIN, extra or {}):
        for key, alts in source.get(block, {}).items():
            if _applies(key, locale):
                found.extend(alts)
    return found


def _phone_pattern(phone: str) -> str:
    digits = [d for d in phone if d.isdigit()]
    # "+1 800 555 0100" and "18005550100" are the same number to a reader.
    return r"\+?" + r"[\s().\-]*".join(digits) if digits else ""


@lru_cache(maxsize=1024)
def compiled(pattern: str, collector: str, phone: str) -> re.Pattern[str] | None:
    """The pattern with its placeholders filled in; None when a placeholder has no value."""
    values = {
        "collector": r"\s+".join(re.escape(w) for w in collector.split()),
        "phone": _phone_pattern(phone),
    }
    if any(not values[name] for name in _PLACEHOLDER.findall(pattern)):
        return None
    return re.compile(_PLACEHOLDER.sub(lambda m: values[m.group(1)], pattern), re.IGNORECASE)


def present(text: str, alts: Sequence[tuple[str, ...]], collector: str, phone: str) -> bool:
    """Whether any alternative matches `text` (every pattern of that alternative)."""
    for alt in alts:
        patterns = [compiled(p, collector, phone) for p in alt]
        if all(p is not None and p.search(text) for p in patterns):
            return True
    return False
