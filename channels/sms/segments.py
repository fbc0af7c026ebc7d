"""GSM 03.38 / UCS-2 encoding choice and segment count for an SMS text.

GSM-7: 160 septets in one part, 153 per part when concatenated; characters of the extension table
(e.g. € [ ] { } ~ ^ | \\) take two septets. Anything else needs UCS-2: 70 UTF-16 code units in one
part, 67 per part when concatenated (so Chinese text costs 70 / 67 characters a part).
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7 = GSM7_BASIC | GSM7_EXTENSION


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    parts: int


def count(text: str) -> Segments:
    # Set operations over the distinct characters: every message rendered at intake and at send
    # is counted, and a loop over each character was a visible part of both.
    chars = set(text)
    if chars <= GSM7:
        units = len(text) + sum(text.count(ch) for ch in chars & GSM7_EXTENSION)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return Segments(encoding, units, 1 if units else 0)
    return Segments(encoding, units, -(-units // multi))
