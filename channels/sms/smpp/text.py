"""Message text on the SMPP wire: GSM 03.38 or UCS-2, split into concatenated parts with a UDH.

GSM-7 goes out as data_coding 0 in the form most SMSCs expect from an ESME: one unpacked septet
per octet, extension characters as ESC (0x1B) + code; the SMSC packs septets for the air
interface. Anything outside GSM 03.38 goes out as UCS-2 (data_coding 8, UTF-16BE). Which of the
two is decided by `channels.sms.segments`, so the count shown to users and the parts sent agree.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from channels.sms import segments

ESC = 0x1B
# GSM 03.38 default alphabet by code point; position 0x1B is the escape to the extension table.
GSM7_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D}
GSM7_EXT.update({"]": 0x3E, "|": 0x40, "€": 0x65})
_ENCODE = {ch: code for code, ch in enumerate(GSM7_TABLE) if code != ESC}
_DECODE_EXT = {code: ch for ch, code in GSM7_EXT.items()}

DC_DEFAULT = 0x00  # SMSC default alphabet: GSM 03.38 here
DC_IA5 = 0x01
DC_LATIN1 = 0x03
DC_UCS2 = 0x08
ESM_UDHI = 0x40
MAX_PARTS = 255


@dataclass(frozen=True, slots=True)
class Encoded:
    """A text ready for submit_sm: its parts (UDH included when concatenated) and coding."""

    encoding: str  # "GSM-7" or "UCS-2"
    data_coding: int
    esm_class: int
    parts: list[bytes]


@dataclass(frozen=True, slots=True)
class Concat:
    """The concatenation information element of a UDH."""

    ref: int
    total: int
    seq: int


def gsm7_encode(text: str) -> bytes:
    """Unpacked GSM 03.38 septets, one per octet. Raises ValueError for characters outside it."""
    out = bytearray()
    for ch in text:
        code = _ENCODE.get(ch)
        if code is not None:
            out.append(code)
        elif ch in GSM7_EXT:
            out += bytes((ESC, GSM7_EXT[ch]))
        else:
            raise ValueError("character outside GSM 03.38")
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    """Unpacked septets to text; an unknown escape yields the plain character (03.38's rule)."""
    out = []
    escaped = False
    for code in data:
        if escaped:
            out.append(_DECODE_EXT.get(code, GSM7_TABLE[code & 0x7F]))
            escaped = False
        elif code == ESC:
            escaped = True
        else:
            out.append(GSM7_TABLE[code & 0x7F])
    return "".join(out)


def _chunks(
    data: bytes, size: int, unit: int, keep_together: Callable[[bytes], bool]
) -> list[bytes]:
    """Cut `data` into chunks of at most `size`; a chunk whose last `unit` must stay with the next
    (`keep_together`) gives that unit to the next chunk."""
    out = []
    pos = 0
    while pos < len(data):
        end = min(pos + size, len(data))
        if end < len(data) and keep_together(data[pos:end]):
            end -= unit
        out.append(data[pos:end])
        pos = end
    return out


def _ends_in_escape(chunk: bytes) -> bool:
    # An ESC is always the first octet of a pair in our own encoding: count the trailing run.
    run = len(chunk) - len(chunk.rstrip(bytes((ESC,))))
    return run % 2 == 1


def _ends_in_high_surrogate(chunk: bytes) -> bool:
    return len(chunk) >= 2 and 0xD8 <= chunk[-2] <= 0xDB


def encode_text(text: str, ref: int | None = None) -> Encoded:
    """Encode and, when too long for one SMS, split with an 8-bit-reference concatenation UDH.

    GSM-7: 160 septets in one part, 153 a part when concatenated (an escape pair never split).
    UCS-2: 70 code units in one part, 67 a part (a surrogate pair never split). Raises ValueError
    beyond 255 parts.
    """
    if segments.count(text).encoding == "GSM-7":
        data, single, multi, unit = gsm7_encode(text), 160, 153, 1
        encoding, coding, together = "GSM-7", DC_DEFAULT, _ends_in_escape
    else:
        data, single, multi, unit = text.encode("utf-16-be"), 140, 134, 2
        encoding, coding, together = "UCS-2", DC_UCS2, _ends_in_high_surrogate
    if len(data) <= single:
        return Encoded(encoding, coding, 0, [data])
    chunks = _chunks(data, multi, unit, together)
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"text needs {len(chunks)} parts; at most {MAX_PARTS}")
    ref = random.randrange(256) if ref is None else ref & 0xFF
    total = len(chunks)
    parts = [bytes((5, 0, 3, ref, total, seq)) + chunk for seq, chunk in enumerate(chunks, 1)]
    return Encoded(encoding, coding, ESM_UDHI, parts)


def split_udh(esm_class: int, payload: bytes) -> tuple[Concat | None, bytes]:
    """Strip a UDH (when esm_class has UDHI) and return its concatenation element, if any."""
    if not esm_class & ESM_UDHI or not payload:
        return None, payload
    size = payload[0]
    udh, rest = payload[1 : 1 + size], payload[1 + size :]
    pos = 0
    concat = None
    while pos + 2 <= len(udh):
        iei, length = udh[pos], udh[pos + 1]
        value = udh[pos + 2 : pos + 2 + length]
        if iei == 0x00 and length == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4:
            concat = Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        pos += 2 + length
    return concat, rest


def decode_text(data_coding: int, payload: bytes) -> str:
    """Text of an incoming message by its data_coding; undecodable octets become U+FFFD."""
    if data_coding == DC_UCS2:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding == DC_IA5:
        return payload.decode("ascii", errors="replace")
    if data_coding == DC_DEFAULT and all(b < 0x80 for b in payload):
        return gsm7_decode(payload)
    # Latin-1, binary, or a "default alphabet" the SMSC sent as 8-bit: keep every octet visible.
    return payload.decode("latin-1")
