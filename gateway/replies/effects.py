"""What each reply category calls for (compliance.md §6.6), as data: the basis written on the
case timeline, the hold or pause it puts the case in, whether a person must look, whether the
debtor gets an acknowledgement. Applied by `gateway.services.replies.effects`."""

from __future__ import annotations

from gateway.replies.categories import Category
from gateway.replies.classifier import Classification

G = Category
BASIS: dict[Category, str] = {
    G.WRONG_PARTY: "§6.6 #1 [L US 1006.6(d); UK CONC 7.9.10R; CN §68; GDPR 5(1)(d)]",
    G.LEGAL_HOLD_BANKRUPTCY: "§6.6 #2 [L automatic stay, 11 USC 362; insolvency regimes]",
    G.LEGAL_HOLD_ATTORNEY: "§6.6 #3 [L US FDCPA 805(a)(2); UK CONC 7.5]",
    G.BREATHING_SPACE: "§6.6 #4 [L SI 2020/1311 reg 7, 11]",
    G.DECEASED: "§6.6 #5 [L US 1006.6(a)(4)]",
    G.VULNERABILITY: "§6.6 #6 [L UK CONC 7.2.1R, 7.10.1R; P elsewhere]",
    G.CEASE_ALL: "§6.6 #7 [L US 1006.6(c); UK CONC 7.9.4R; GDPR Art. 21]",
    G.REFUSE_TO_PAY: "§6.6 #7 [L US 1006.6(c); UK CONC 7.9.4R; GDPR Art. 21]",
    G.DISPUTE: "§6.6 #8 [L US 1006.34; UK CONC 7.14.1R; CN §69]",
    G.OPT_OUT_CHANNEL: "§6.6 #9 [L US 1006.14(h), 1006.6(e); TCPA 64.1200(a)(10), (a)(12)]",
    G.HARDSHIP: "§6.6 #10 [L UK CONC 7.3; EU CCD2 Art. 35; CN §70; P 30-day pause]",
    G.ALREADY_PAID: "§6.6 #11 [P 5 business days pending reconciliation]",
    G.PROMISE_TO_PAY: "§6.6 #12 [P pause until promise date + 2 days]",
    G.ARRANGEMENT_REQUEST: "§6.6 #13 [P 7-day pause]",
    G.TIME_PREFERENCE: "§6.6 #14 [L US 1006.6(b)(1); UK CONC 7.9.4R]",
    G.CHANNEL_PREFERENCE: "§6.6 #15 [L UK CONC 7.9.4R; US 1006.14(h)]",
    G.INFO_REQUEST: "§6.6 #16 [L UK CONC 7.9.10R]",
    G.COMPLAINT: "§6.6 #17 [P 5-day pause]",
    G.HELP: "§6.6 #18 [S CTIA]",
    G.RESUBSCRIBE: "§6.6 #19 [S CTIA]",
    G.UNKNOWN: "§6.6 #20 [P]",
}
# The hold each category puts a case in (§6.6 #2–#6; a vulnerable debtor: capacity).
HOLDS = {
    G.LEGAL_HOLD_BANKRUPTCY: "bankruptcy",
    G.BREATHING_SPACE: "breathing_space",
    G.LEGAL_HOLD_ATTORNEY: "attorney",
    G.DECEASED: "deceased",
    G.VULNERABILITY: "capacity",
}
# Pauses in days (§6.6 #10, #13, #17); an already-paid reply pauses for business days (#11).
PAUSES = {
    G.HARDSHIP: ("hardship", 30),
    G.ARRANGEMENT_REQUEST: ("arrangement_request", 7),
    G.COMPLAINT: ("complaint", 5),
}
ALREADY_PAID_BUSINESS_DAYS = 5
# A human must act on these (verify, assess, answer, record a preference the policy cannot yet).
REVIEW = frozenset(
    {*HOLDS, G.CEASE_ALL, G.REFUSE_TO_PAY, G.DISPUTE, G.HARDSHIP, G.ALREADY_PAID}
    | {G.ARRANGEMENT_REQUEST, G.TIME_PREFERENCE, G.CHANNEL_PREFERENCE, G.INFO_REQUEST}
    | {G.COMPLAINT}
)
# Replies that get no acknowledgement: STOP and HELP get their own answer; a wrong number, a
# death, a representative or a cease request must not be written to again.
NO_ACKNOWLEDGEMENT = frozenset(
    {G.OPT_OUT_CHANNEL, G.HELP, G.RESUBSCRIBE, G.WRONG_PARTY, G.DECEASED, G.LEGAL_HOLD_ATTORNEY}
    | {G.CEASE_ALL, G.REFUSE_TO_PAY}
)
# An unreadable reply goes to a person when it is long or repeated (§6.6 #20); "ok" does not.
UNKNOWN_REVIEW_CHARS = 20
REPEAT_WINDOW_HOURS = 24


def rules_of(result: Classification, category: Category) -> list[str]:
    """The ids of the keyword or rules that found `category` in the reply."""
    return [
        r
        for r in result.facts.rules
        if r.startswith("keyword:") or r.split(".")[1:2] == [category.value]
    ]
