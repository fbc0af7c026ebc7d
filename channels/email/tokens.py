"""Signed addresses for mail that comes back: the VERP return path and the per-case reply address.

`bounce+<message id>.<sig>@<bounce domain>` is the envelope sender of one reminder, so a bounce names
the message it is about; `reply+<case id>.<sig>@<reply domain>` is the Reply-To of every email on a
case, so a reply reaches the case whichever mailbox it is written from. The signature (a truncated
HMAC with the gateway's secret) means nobody can make a bounce fail, or a reply land on, a message
or case of their choosing. The tokens hold internal ids only: no case reference, no personal data.

Everything is lower case and uses only `[0-9a-z.+]`, because mail systems are free to change the
case of a local part and some drop characters they dislike.
"""

from __future__ import annotations

import hashlib
import hmac

BOUNCE_PREFIX = "bounce+"
REPLY_PREFIX = "reply+"
SIG_HEX = 16  # 64 bits: plenty against guessing, short enough for the 64-octet local-part limit


def _sig(secret: str, purpose: str, value: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:SIG_HEX]


def _split(address: str, prefix: str, domain: str | None) -> tuple[str, str] | None:
    local, at, host = address.strip().strip("<>").lower().rpartition("@")
    if not at or not local.startswith(prefix):
        return None
    if domain is not None and host != domain.lower():
        return None
    value, dot, sig = local[len(prefix) :].rpartition(".")
    return (value, sig) if dot and value else None


def bounce_address(secret: str, message_id: str, domain: str) -> str:
    """The VERP envelope sender for one message."""
    return f"{BOUNCE_PREFIX}{message_id}.{_sig(secret, 'bounce', message_id)}@{domain}"


def message_of_bounce_address(secret: str, address: str, domain: str | None = None) -> str | None:
    """The message id a VERP address was made for, or None if we did not make it."""
    parts = _split(address, BOUNCE_PREFIX, domain)
    if parts is None:
        return None
    message_id, sig = parts
    return message_id if hmac.compare_digest(sig, _sig(secret, "bounce", message_id)) else None


def case_token(secret: str, case_id: int) -> str:
    """A token naming one case (by its internal id), signed."""
    return f"{case_id}.{_sig(secret, 'reply', str(case_id))}"


def reply_address(secret: str, case_id: int, domain: str) -> str:
    """The Reply-To address of a case's emails."""
    return f"{REPLY_PREFIX}{case_token(secret, case_id)}@{domain}"


def case_of_reply_address(secret: str, address: str, domain: str | None = None) -> int | None:
    """The case id a reply address was made for, or None if we did not make it."""
    parts = _split(address, REPLY_PREFIX, domain)
    if parts is None or not (parts[0].isascii() and parts[0].isdigit()):
        return None
    case_id, sig = parts
    return int(case_id) if hmac.compare_digest(sig, _sig(secret, "reply", case_id)) else None
