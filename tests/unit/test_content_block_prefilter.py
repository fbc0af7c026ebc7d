"""The literal prefilter of content-block detection (`scheduler.blocks.needed`): a pattern is
only searched for in a text that holds one of the literals every match of it contains, and the
answer is the regular expression's whatever the text."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import blocks
from scheduler.blocks import BUILTIN, Needed, folded, needed

COLLECTOR, PHONE = "Acme Recovery Services", "+1 800 555 0100"
PATTERNS = sorted(
    {p for detector in BUILTIN.values() for alts in detector.values() for alt in alts for p in alt}
)


def test_the_folded_characters_are_every_one_case_insensitive_matching_adds() -> None:
    # Characters that `re.IGNORECASE` matches to an ASCII letter while their lower case is
    # another: the prefilter must fold them as the regular expression reads them.
    letter = re.compile("[a-z]", re.IGNORECASE)
    odd = {chr(cp) for cp in range(128, sys.maxunicode + 1) if letter.fullmatch(chr(cp))}
    assert odd == {"\u0130", "\u0131", "\u017f", "\u212a"}
    assert folded("ſTOP İT KEEP") == "stop it keep"


def test_the_literals_are_read_from_the_pattern() -> None:
    assert needed(r"\bmoneyhelper\b") == Needed(("moneyhelper",), leading=True)
    assert needed(r"\b(call|phone|contact)\s+us\b") == Needed(("call", "phone", "contact"), True)
    assert needed(r"\b(can|may)\s+object\b") == Needed(("can", "may"), leading=True)
    assert needed(r"\S*privacy\S*") == Needed(("privacy",), leading=False)
    assert needed(r"(?<=x)Stop") == Needed(("stop",), leading=True)  # look-behinds take nothing
    assert needed(r"(来自|是)催收") == Needed(("催收",), leading=False)
    assert needed(r"ab?c") is None  # nothing three letters long is certain
    assert needed(r"foo|barbaz") is None  # a top-level choice: no single literal is certain
    assert needed(r"(?:stop|st)") is None  # a branch shorter than three
    assert needed(r"(\bfoo|bar)") is None  # a branch that does not start with its literal


PIECES = st.sampled_from(
    [
        "reply",
        "STOP",
        "Reply “STOP”",
        "text  stop",
        "ſtop",
        "İT",
        "opt out",
        "opt-out",
        "unsubscribe",
        "https://acme.example/privacy",
        "from a debt collector",
        "moneyhelper",
        "MoneyHelper",
        "free debt advice",
        "call us",
        "CALL US",
        "+1 (800) 555-0100",
        "ending 1234",
        "****1234",
        "right to object",
        "can object",
        "official payment channels",
        "only pay via",
        "dispute",
        "Disputing",
        "Acme  Recovery\\nServices",
        "【Acme】",
        "回复TD退订",
        "来自债务催收机构",
        "官方还款渠道",
        "有权反对",
        "隐私声明：http://x",
        "免费债务咨询",
        "\\u212a",
        "\\u0131",
        " ",
        "\\n",
        ".",
    ]
)
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_the_prefilter_never_changes_an_answer(text: str) -> None:
    lowered = folded(text)
    for pattern in PATTERNS:
        detector = blocks._detector(pattern, COLLECTOR, PHONE)
        if detector is None:
            continue
        compiled, _ = detector
        assert blocks._matches(detector, text, lowered) == (compiled.search(text) is not None), (
            pattern
        )
