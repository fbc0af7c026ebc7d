"""How a reply is normalized before it is read: one spelling for case, width, quotes and
punctuation, so "Stop!", "ＳＴＯＰ" and "stop." are the same word."""

from __future__ import annotations

import re
import unicodedata

from gateway.replies.hanzi import simplified

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_SPACE = re.compile(r"\s+")
# The stop sign said as an emoji is the word: "🛑" alone, or "STOP 🛑🛑", is a stop.
_STOP_SIGN = re.compile("\U0001f6d1")
# A zero typed for an o inside a word: "ST0P", "n0t me".
_ZERO_FOR_O = re.compile(r"(?<=[a-z])0(?=[a-z])")
# "wrong #": a hash that numbers nothing is the word "number" ("#4" stays a hash).
_NUMBER_SIGN = re.compile(r"#(?!\s*\d)")
# Where a reply switches between Latin letters and Chinese characters without a space
# ("tmr会transfer过去", "stop calling我"): a word boundary, so an English word is read as one.
# An accent on a Latin letter ("Tomás", "Zoë", "Siobhán"): read without it, as the rules are
# written ("tomas"), once the letter and its marks are taken apart (NFD).
_LATIN_MARK = re.compile(r"(?<=[a-z])[\u0300-\u036f]+")
_SCRIPT_SWITCH = re.compile(
    r"(?<=[a-z])(?=[\u3400-\u9fff\uf900-\ufaff])|(?<=[\u3400-\u9fff\uf900-\ufaff])(?=[a-z])"
)


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), case-folded, Traditional Chinese
    characters in their Simplified form (`hanzi`), accents taken off Latin letters, one kind of
    apostrophe, a zero inside a word read as an o, "#" written for "number", the stop sign emoji
    for "stop", a space where Latin letters and Chinese characters meet, single spaces."""
    folded = simplified(unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES))
    if not folded.isascii():
        folded = _LATIN_MARK.sub("", unicodedata.normalize("NFD", folded))
        folded = unicodedata.normalize("NFC", folded)
    folded = _ZERO_FOR_O.sub("o", folded)
    folded = _NUMBER_SIGN.sub(" number ", folded)
    folded = _STOP_SIGN.sub(" stop ", folded)
    folded = _SCRIPT_SWITCH.sub(" ", folded)
    return _SPACE.sub(" ", folded).strip()


def words(normalized: str) -> str:
    """Punctuation and symbols become spaces; apostrophes inside words stay ("don't")."""
    out = []
    for index, char in enumerate(normalized):
        kind = unicodedata.category(char)
        if char == "'":
            inside = 0 < index < len(normalized) - 1 and normalized[index + 1].isalnum()
            out.append(char if inside and normalized[index - 1].isalnum() else " ")
        elif kind[0] in "PSC" or kind == "Zs":
            out.append(" ")
        else:
            out.append(char)
    return _SPACE.sub(" ", "".join(out)).strip()


def sentences(normalized: str) -> list[str]:
    """The reply cut where a sentence or clause ends: at punctuation (not an apostrophe or a
    hyphen), and at a symbol or emoji; each piece as `words` spells it."""
    pieces: list[str] = []
    current: list[str] = []
    for char in normalized:
        kind = unicodedata.category(char)
        if char not in "'-" and kind[0] in "PS":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return [w for w in (words(p) for p in pieces) if w]


_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")


def clauses(normalized: str) -> str:
    """For Chinese, which does not separate words: spaces typed between characters go, while
    punctuation still ends a clause (as a space), so a rule never reads across a comma."""
    return words(_CJK_GAP.sub("", normalized))
