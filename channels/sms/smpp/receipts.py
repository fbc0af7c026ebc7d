"""SMPP delivery receipts: telling them from replies, parsing them, and matching their ids.

A receipt is a deliver_sm whose esm_class says so. Its short_message follows SMPP 3.4 Appendix B
(`id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
err:E text:...`); SMSCs that speak 3.4 properly also send the `receipted_message_id` and
`message_state` TLVs, which are preferred when present (the text's id is often truncated).

Id forms: some SMSCs answer submit_sm_resp with a hex id and write the receipt's id in decimal,
or the reverse (Jasmin's `dlr_msgid`; the root of its "DLRMapNotFound" reports). Both ids are
brought to one canonical form so that they match: with a conversion configured, the decimal value
of the id; in any case, hex-digit ids lower-cased without leading zeros.
"""

from __future__ import annotations

import re
from datetime import datetime
from string import hexdigits
from typing import Any

from channels.events import DeliveryEvent, DeliveryEventType
from channels.sms.smpp.pdu import Pdu, Tlv

E = DeliveryEventType

ID_FORMATS = ("same", "hex_to_dec", "dec_to_hex")
# Base of the id in submit_sm_resp and in receipts, per SMPP_RECEIPT_ID_FORMAT.
_SUBMIT_BASE = {"same": None, "hex_to_dec": 16, "dec_to_hex": 10}
_RECEIPT_BASE = {"same": None, "hex_to_dec": 10, "dec_to_hex": 16}

STATUS_MAP: dict[str, DeliveryEventType] = {
    "DELIVRD": E.DELIVERED,
    "UNDELIV": E.UNDELIVERED,
    "EXPIRED": E.EXPIRED,
    "REJECTD": E.REJECTED,
    "DELETED": E.FAILED,
    "ACCEPTD": E.SENT,
    "ENROUTE": E.SENT,
    "UNKNOWN": E.UNKNOWN,
}
# The message_state TLV's values (SMPP 3.4 §5.2.28) as the receipt text writes them.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_NEGATIVE = {E.UNDELIVERED, E.EXPIRED, E.REJECTED, E.FAILED}
# esm_class bits 2-5: 0x04 SMSC delivery receipt, 0x20 intermediate delivery notification.
_RECEIPT_TYPES = {0x04, 0x20}
_FIELDS = {
    "id": r"\bid:\s*(\S+)",
    "sub": r"\bsub:\s*(\S+)",
    "dlvrd": r"\bdlvrd:\s*(\S+)",
    "submit_date": r"\bsubmit date:\s*(\d+)",
    "done_date": r"\bdone date:\s*(\d+)",
    "stat": r"\bstat:\s*(\w+)",
    "err": r"\berr:\s*(\w+)",
}
_PATTERNS = {name: re.compile(p, re.IGNORECASE) for name, p in _FIELDS.items()}


def canonical_id(raw: str, base: int | None = None) -> str:
    """One form for a message id: its decimal value when `base` is given and the id reads in it;
    otherwise, for hex-digit ids, lower case without leading zeros; else the id as given."""
    text = raw.strip().strip("\0").strip()
    digits = "0123456789" if base == 10 else hexdigits
    if base is not None and text and all(c in digits for c in text):
        return str(int(text, base))
    if text and all(c in hexdigits for c in text):
        return text.lower().lstrip("0") or "0"
    return text


def submit_id(raw: str, id_format: str) -> str:
    """The canonical form of an id from submit_sm_resp."""
    return canonical_id(raw, _SUBMIT_BASE[id_format])


def receipt_id(raw: str, id_format: str) -> str:
    """The canonical form of an id from a delivery receipt."""
    return canonical_id(raw, _RECEIPT_BASE[id_format])


def is_receipt(pdu: Pdu) -> bool:
    """Whether a deliver_sm is a delivery receipt rather than a message from the debtor."""
    return (int(pdu.get("esm_class")) & 0x3C) in _RECEIPT_TYPES


def parse_text(text: str) -> dict[str, str]:
    """The Appendix B fields found in a receipt's text (`text:` itself is left out: it quotes
    the debtor's message)."""
    found = {}
    for name, pattern in _PATTERNS.items():
        match = pattern.search(text)
        if match:
            found[name] = match.group(1)
    return found


def receipt_fields(pdu: Pdu) -> dict[str, Any]:
    """A receipt's fields from its text and TLVs; the TLVs win where both are present."""
    payload = pdu.get("short_message") or pdu.tlvs.get(Tlv.MESSAGE_PAYLOAD, b"")
    fields: dict[str, Any] = parse_text(payload.decode("latin-1"))
    tlv_id = pdu.tlv_str(Tlv.RECEIPTED_MESSAGE_ID)
    if tlv_id:
        fields["receipted_message_id"] = tlv_id
    state = pdu.tlv_int(Tlv.MESSAGE_STATE)
    if state is not None:
        fields["message_state"] = state
    return fields


def to_event(
    pdu: Pdu, *, provider: str, id_format: str, received_at: datetime
) -> DeliveryEvent | None:
    """The normalized event for a receipt PDU; None when it names no message at all.

    `occurred_at` is when the gateway received it: the receipt's dates carry no time zone.
    """
    fields = receipt_fields(pdu)
    raw_id = fields.get("receipted_message_id") or fields.get("id")
    if not raw_id:
        return None
    ref = receipt_id(raw_id, id_format)
    if not ref:
        return None
    stat = MESSAGE_STATES.get(fields.get("message_state", 0)) or fields.get("stat", "UNKNOWN")
    stat = stat.upper()
    kind = STATUS_MAP.get(stat, E.UNKNOWN)
    err = fields.get("err")
    failed = kind in _NEGATIVE and err is not None and err.strip("0") != ""
    return DeliveryEvent(
        provider=provider,
        provider_ref=ref,
        event_id=f"{ref}:{stat}",
        type=kind,
        occurred_at=received_at,
        reject_reason=f"err:{err}" if failed else None,
        description=stat,
        raw=fields,
    )
