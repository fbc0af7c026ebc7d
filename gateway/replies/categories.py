"""What a debtor's reply can mean (compliance.md §6.6) and which meaning outranks which."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """The reply taxonomy of compliance §6.6. Values are what the `replies.category` column holds."""

    WRONG_PARTY = "wrong_party"
    LEGAL_HOLD_BANKRUPTCY = "legal_hold_bankruptcy"
    LEGAL_HOLD_ATTORNEY = "legal_hold_attorney"
    BREATHING_SPACE = "breathing_space"
    DECEASED = "deceased"
    VULNERABILITY = "vulnerability"
    CEASE_ALL = "cease_all"
    REFUSE_TO_PAY = "refuse_to_pay"
    DISPUTE = "dispute"
    OPT_OUT_CHANNEL = "opt_out_channel"
    HARDSHIP = "hardship"
    ALREADY_PAID = "already_paid"
    PROMISE_TO_PAY = "promise_to_pay"
    ARRANGEMENT_REQUEST = "arrangement_request"
    TIME_PREFERENCE = "time_preference"
    CHANNEL_PREFERENCE = "channel_preference"
    INFO_REQUEST = "info_request"
    COMPLAINT = "complaint"
    HELP = "help"
    RESUBSCRIBE = "resubscribe"
    UNKNOWN = "unknown"


C = Category

# Most restrictive first: when a reply says several things, every effect is applied and this order
# names the reply's primary category (and breaks ties between case states, see reply effects).
# A death, an insolvency or a representative stops everything; a wrong number stops that number;
# a cease request outranks a dispute (which still allows verification); an opt-out outranks the
# pauses; requests for information come last.
PRECEDENCE: tuple[Category, ...] = (
    C.DECEASED,
    C.LEGAL_HOLD_BANKRUPTCY,
    C.BREATHING_SPACE,
    C.LEGAL_HOLD_ATTORNEY,
    C.VULNERABILITY,
    C.WRONG_PARTY,
    C.CEASE_ALL,
    C.REFUSE_TO_PAY,
    C.DISPUTE,
    C.OPT_OUT_CHANNEL,
    C.COMPLAINT,
    C.HARDSHIP,
    C.ALREADY_PAID,
    C.PROMISE_TO_PAY,
    C.ARRANGEMENT_REQUEST,
    C.CHANNEL_PREFERENCE,
    C.TIME_PREFERENCE,
    C.INFO_REQUEST,
    C.HELP,
    C.RESUBSCRIBE,
    C.UNKNOWN,
)
_RANK = {category: index for index, category in enumerate(PRECEDENCE)}


def ordered(categories: set[Category]) -> tuple[Category, ...]:
    """The categories, most restrictive first. An opt-out cancels a resubscription said in the
    same breath; nothing detected is UNKNOWN."""
    found = set(categories) - {C.UNKNOWN}
    if C.OPT_OUT_CHANNEL in found:
        found.discard(C.RESUBSCRIBE)
    if not found:
        return (C.UNKNOWN,)
    return tuple(sorted(found, key=_RANK.__getitem__))
