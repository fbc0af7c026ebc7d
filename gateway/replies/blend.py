"""The rules and the statistical model read together: what the model reads of a reply
(`features`), the model trained once per process on the shipped corpus (`trained_model`,
`warm_up`), and how its readings are combined with what the rules found (`combine`)."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from gateway.replies import model_store, spelling
from gateway.replies.categories import PRECEDENCE, Category, ordered
from gateway.replies.model import Model, corpus, threshold, train
from gateway.replies.rules import EN_NEGATORS, NEGATION_FILLERS, respelled, rule_set
from gateway.replies.text import clauses

# Below this, a reply is queued for human review (compliance §6.6 "low confidence").
REVIEW_THRESHOLD = 0.8
# A dispute is not read into a reply the model also finds this likely to say "wrong party": a
# stranger's "not mine" read as the debtor's dispute keeps their number for debt messages.
WRONG_PARTY_DOUBT = 0.2
# What the model reads alone that a person always confirms, however sure it is: a wrong party
# invalidates the debtor's number for every debt. (The other costly readings, holds, a cease or
# a dispute, are reviewed whoever read them: `effects.REVIEW`.)
CONFIRMED = frozenset({Category.WRONG_PARTY})
# Categories the model mistakes for one another (its cross-validated confusions, printed by
# `python -m tests.reply_cv`): where the rules found one, the model's reading of the other is
# not applied.
_PAIRS = (
    (Category.CEASE_ALL, Category.OPT_OUT_CHANNEL),
    (Category.WRONG_PARTY, Category.DISPUTE),
    (Category.WRONG_PARTY, Category.INFO_REQUEST),
    (Category.OPT_OUT_CHANNEL, Category.RESUBSCRIBE),
    (Category.WRONG_PARTY, Category.DECEASED),
    (Category.CEASE_ALL, Category.CHANNEL_PREFERENCE),
    (Category.CEASE_ALL, Category.TIME_PREFERENCE),  # "don't call before 8am": when, not whether
    (Category.OPT_OUT_CHANNEL, Category.TIME_PREFERENCE),
    (Category.DISPUTE, Category.INFO_REQUEST),  # a question about the debt is not a dispute
    (Category.ALREADY_PAID, Category.PROMISE_TO_PAY),  # 今天还了: paid today, not a promise
)
NEIGHBOURS: dict[Category, frozenset[Category]] = {
    c: frozenset({b for a, b in _PAIRS if a is c} | {a for a, b in _PAIRS if b is c})
    for c in Category
}
_RANK = {category: index for index, category in enumerate(PRECEDENCE)}


def combine(
    found: Mapping[Category, float],
    readings: Mapping[Category, float],
    thresholds: Mapping[Category, float] | None = None,
    denied: frozenset[Category] = frozenset(),
) -> tuple[dict[Category, float], tuple[tuple[Category, float], ...]]:
    """The categories of a reply, each with its confidence, and the model's doubts: what only
    the model read and a person must confirm (compliance §6.6 "low confidence").

    The rules are authoritative where they match: what they found is kept, with their
    confidence, and the model never removes nor lowers it. The model adds a category the rules
    missed where its probability reaches that category's threshold (`model.THRESHOLDS`), and
    that the rules did not read negated (`denied`: the model does not weigh a "not"):

    - below the review threshold, the category is applied and doubted (the most restrictive
      reading is applied meanwhile);
    - a wrong party read by the model alone is always doubted: it invalidates the number;
    - a category the model confuses with one the rules found (`NEIGHBOURS`: a cease for an
      opt-out, a wrong party for a dispute…) is not applied; it is doubted when it is the more
      restrictive of the two, and otherwise dropped; but a wrong party beside a question alone
      is applied (and doubted, as every wrong party the model reads);
    - a dispute the model alone reads is not applied where it finds a wrong party likely too
      (`WRONG_PARTY_DOUBT`), and beside a dispute the rules read, such a wrong party is applied
      and doubted: a stranger's "not mine" is never read as only a dispute."""
    limit = thresholds.get if thresholds is not None else None
    confidence = dict(found)
    doubts: dict[Category, float] = {}
    for category, p in readings.items():
        wanted = limit(category, threshold(category)) if limit else threshold(category)
        if category in found or category in denied or p < wanted:
            continue
        near = [n for n in NEIGHBOURS.get(category, ()) if n in found]
        if near == [Category.INFO_REQUEST] and category is Category.WRONG_PARTY:
            # A stranger who also asks who is writing ("who is this? never heard of her"): the
            # question does not make them the debtor; the wrong party is applied, doubted.
            confidence[category] = doubts[category] = p
            continue
        if near:
            if all(_RANK[category] < _RANK[n] for n in near):
                doubts[category] = p
            continue
        confidence[category] = p
        if p < REVIEW_THRESHOLD or category in CONFIRMED:
            doubts[category] = p
    wrong_party = readings.get(Category.WRONG_PARTY, 0.0)
    if (
        Category.DISPUTE in confidence
        and Category.DISPUTE not in found
        and Category.WRONG_PARTY not in confidence
        and wrong_party >= WRONG_PARTY_DOUBT
    ):
        del confidence[Category.DISPUTE]
        doubts[Category.WRONG_PARTY] = wrong_party
        doubts[Category.DISPUTE] = readings[Category.DISPUTE]
    elif (
        Category.DISPUTE in found
        and Category.WRONG_PARTY not in confidence
        and wrong_party >= WRONG_PARTY_DOUBT
    ):
        # The rules' dispute is kept, and the wrong party the model finds likely is applied
        # beside it, doubted: the more restrictive of the two, until a person decides.
        confidence[Category.WRONG_PARTY] = wrong_party
        doubts[Category.WRONG_PARTY] = wrong_party
    listed = ordered(set(doubts))
    return confidence, tuple((c, doubts[c]) for c in listed if c in doubts)


def features(normalized: str) -> str:
    """What the model reads of a normalised, respelled reply: its words (Chinese without the
    spaces typed between characters) and any emoji, which `words` drops."""
    emoji = " ".join(ch for ch in normalized if unicodedata.category(ch) == "So")
    # A mixed reply is also read with its English words in Chinese: what the model learns of
    # 律师 in Chinese replies it reads in "找我的 lawyer" too.
    mixed = switched(normalized)
    also = " " + " ".join(_HAN_RUN.findall(clauses(mixed))) if mixed != normalized else ""
    return f"{_mark_negation(clauses(normalized))}{also} {emoji}".strip()


_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def switched(normalized: str) -> str:
    """The reply with the English words a Chinese sentence borrows written in Chinese
    (`spelling.code_switch`, the table in the Chinese rule file)."""
    rules = rule_set()
    return spelling.code_switch(normalized, rules.switch, rules.switching)


def _mark_negation(text: str) -> str:
    """The word an English negator governs is written `not_<word>` ("don't stop" reads
    "don't not_stop"), so the model can tell it from the word said plainly."""
    out: list[str] = []
    left = 0
    for word in text.split(" "):
        out.append(f"not_{word}" if left and word not in NEGATION_FILLERS else word)
        if EN_NEGATORS.fullmatch(word):
            left = 1
        elif word not in NEGATION_FILLERS:
            left = 0
    return " ".join(out)


def trained_model() -> Model:
    """The model trained on the shipped corpus, once per process: a second caller waits for the
    training under way (the warm-up's, `warm_up`) rather than training again. Loaded from the
    directory `keep_model_in` named, where an earlier process stored it (`model_store`)."""
    with _TRAINING:
        return _trained_model()


def keep_model_in(directory: Path | None) -> None:
    """Where trained models are kept between processes (None: trained in memory only)."""
    _STORE[0] = directory


def model_ready() -> bool:
    """Whether this process has trained the model already (a reply is read without waiting)."""
    return _trained_model.cache_info().currsize > 0


_TRAINING = threading.Lock()
_STORE: list[Path | None] = [None]


@cache
def _trained_model() -> Model:
    return model_store.load_or_train(_STORE[0], _train)


def _train() -> Model:
    replies = corpus().replies
    texts = [features(respelled(r.text)) for r in replies]
    return train(texts, [r.expect for r in replies])
