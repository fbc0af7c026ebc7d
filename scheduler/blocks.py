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
from re import _constants, _parser  # type: ignore[attr-defined]  # a pattern's parse
from typing import Any, NamedTuple

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
    found = _detector(pattern, collector, phone)
    return found[0] if found is not None else None


@lru_cache(maxsize=1024)
def _detector(
    pattern: str, collector: str, phone: str
) -> tuple[re.Pattern[str], Needed | None] | None:
    values = {
        "collector": r"\s+".join(re.escape(w) for w in collector.split()),
        "phone": _phone_pattern(phone),
    }
    if any(not values[name] for name in _PLACEHOLDER.findall(pattern)):
        return None
    source = _PLACEHOLDER.sub(lambda m: values[m.group(1)], pattern)
    return re.compile(source, re.IGNORECASE), needed(source)


# The characters Python's case-insensitive matching takes for an ASCII letter although their
# lower case is not that letter (found by scanning every code point; tests/unit check it).
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
# Shorter literals rule out too little to be worth the look (two Chinese characters do).
_SHORTEST = {True: 3, False: 2}  # by whether the literal is ASCII


def folded(text: str) -> str:
    """`text` as the prefilter compares it: every character a literal could match
    case-insensitively becomes that literal's lower case."""
    return text.translate(_FOLD).lower()


class Needed(NamedTuple):
    literals: tuple[str, ...]  # folded; every match contains one of them
    leading: bool  # every match starts with one of them


def needed(source: str) -> Needed | None:
    """Literals of which every match of the case-insensitive pattern `source` contains one, and
    whether a match starts with one; None when the pattern names none worth looking for.

    Read from the pattern's parse: a run of literal characters at its top level is in every
    match, and so is one of the branches' leading runs of a top-level group of alternatives.
    Only ASCII and caseless characters (Chinese) are taken, whose case-insensitive matches are
    exactly what `folded` maps onto them. A regular expression costs 11-17 µs on an email's
    text wherever it looks (Python's engine tries every position of a pattern that starts with
    `\\b` or ignores case); a literal is found in well under one, and a pattern that starts with
    one need only be tried where it occurs.
    """
    try:
        items = list(_parser.parse(source, re.IGNORECASE))
    except re.error:
        return None
    candidates: list[Needed] = []
    run: list[str] = []
    consumed = False  # whether an item before this one takes characters
    for op, arg in [*items, (None, None)]:
        if op is _constants.LITERAL and _plain(chr(arg)):
            run.append(chr(arg))
            continue
        if run:
            candidates.append(Needed(("".join(run).lower(),), not consumed))
            run, consumed = [], True
        if op is _constants.SUBPATTERN and (branches := _branches(arg[-1])) is not None:
            candidates.append(Needed(branches, not consumed))
        if op not in _ZERO_WIDTH:
            consumed = True
    good = [c for c in candidates if all(len(x) >= _SHORTEST[x.isascii()] for x in c.literals)]
    if not good:
        return None
    # A leading one, if there is one: a pattern is then only tried where it occurs.
    return max(good, key=lambda c: (c.leading, min(map(len, c.literals))))


_ZERO_WIDTH = frozenset({_constants.AT, _constants.ASSERT, _constants.ASSERT_NOT, None})


def _plain(ch: str) -> bool:
    return ch.isascii() or (ch.isalpha() and ch.lower() == ch and ch.upper() == ch)


def _branches(sub: Any) -> tuple[str, ...] | None:
    """The leading literal runs of a group that is one set of alternatives, folded."""
    items = list(sub)
    if len(items) != 1 or items[0][0] is not _constants.BRANCH:
        return None
    leads = []
    for branch in items[0][1][1]:
        lead = []
        for op, arg in branch:
            if op is not _constants.LITERAL or not _plain(chr(arg)):
                break
            lead.append(chr(arg))
        if not lead:
            return None
        leads.append("".join(lead).lower())
    return tuple(leads)


def present(
    text: str,
    alts: Sequence[tuple[str, ...]],
    collector: str,
    phone: str,
    folded_text: str | None = None,
) -> bool:
    """Whether any alternative matches `text` (every pattern of that alternative).

    `folded_text` is `folded(text)`, for a caller that asks about many blocks of one text."""
    lowered = folded(text) if folded_text is None else folded_text
    for alt in alts:
        if all(_matches(_detector(p, collector, phone), text, lowered) for p in alt):
            return True
    return False


def _matches(
    detector: tuple[re.Pattern[str], Needed | None] | None, text: str, lowered: str
) -> bool:
    """`pattern.search(text)`, looking where the pattern's literals say it can match."""
    if detector is None:
        return False
    pattern, need = detector
    if need is None:
        return pattern.search(text) is not None
    if not need.leading or len(lowered) != len(text):
        return any(x in lowered for x in need.literals) and pattern.search(text) is not None
    # Folding keeps every character in its place, so a match starts where a literal does; a
    # match tried there reads the character before it for `\b` and look-behinds, as search does.
    for literal in need.literals:
        at = lowered.find(literal)
        while at >= 0:
            if pattern.match(text, at):
                return True
            at = lowered.find(literal, at + 1)
    return False
