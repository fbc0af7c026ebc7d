"""Reading a debtor's reply: exact keywords first, then phrase rules, in English and Chinese,
then a statistical model (`model`) for what the rules missed (`blend`). The rules themselves
are loaded by `rules`.

Pure: no database, no clock (the reply's local date is passed in), no I/O once the rule files
and the corpus are loaded. The rule files are data (`keywords/<locale>.yaml`); the classifier's
version carries a digest of them and of the model (its corpus, parameters and thresholds), so
every decision on a case timeline names the exact rules and model that made it.

Every rule file applies to every reply whatever the debtor's locale (a Chinese-speaking debtor
may well write STOP); the locale only decides how a date such as 3/4 is read. Before any rule is
read, text speak and one-key slips are respelled (`spelling`), so "pls stopp txting" is read as
"please stop texting".

A reply that is not a keyword as a whole may still say one as a sentence of its own: "Wrong
number. STOP", "退订，谢谢", "td 谢谢". An opt-out keyword standing alone between punctuation
(courtesy words such as "please" or 谢谢 around it aside) is read as the opt-out, alongside
whatever else the reply says. Only the opt-out is read so: "Help, I can't pay" is not a request
for the HELP text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from gateway.replies import blend
from gateway.replies.blend import REVIEW_THRESHOLD, combine, features, switched, trained_model
from gateway.replies.categories import Category, ordered
from gateway.replies.dates import promise_date
from gateway.replies.model import Model
from gateway.replies.model import version as model_version
from gateway.replies.rules import (
    EN_NEGATORS,
    LATIN,
    NEGATION_FILLERS,
    Rule,
    RuleSet,
    respelled,
    rule_set,
)
from gateway.replies.text import clauses, sentences, words

_ZH_NEGATORS = re.compile(r"[不没未别唔冇]")  # 唔, 冇: Cantonese
_HAN_OR_DIGIT = re.compile(r"[\u3400-\u9fff\uf900-\ufaff0-9]")
# The keyword categories that a sentence of a longer reply can say on its own.
_STANDALONE = frozenset({Category.OPT_OUT_CHANNEL})


@dataclass(frozen=True, slots=True)
class Facts:
    """What the reply states besides its categories."""

    promise_date: date | None = None
    keyword: str | None = None  # the exact keyword the whole reply was
    rules: tuple[str, ...] = ()  # ids of the keywords and rules that matched ("model.<category>")
    # The model's probability of each category it added or doubts, most restrictive first.
    model: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "promise_date": self.promise_date.isoformat() if self.promise_date else None,
            "keyword": self.keyword,
            "rules": list(self.rules),
            "model": dict(self.model),
        }


@dataclass(frozen=True, slots=True)
class Classification:
    """Every category detected, most restrictive first; UNKNOWN alone when none was."""

    categories: tuple[Category, ...]
    facts: Facts = field(default_factory=Facts)
    confidence: float = 0.0
    version: str = ""
    # What only the model read, below the review threshold: a person must confirm it (applied
    # meanwhile if it is among `categories`, compliance §6.6 "low confidence").
    doubts: tuple[tuple[Category, float], ...] = ()

    @property
    def primary(self) -> Category:
        return self.categories[0]

    @property
    def confident(self) -> bool:
        return self.confidence >= REVIEW_THRESHOLD and not self.doubts

    def has(self, *categories: Category) -> bool:
        return any(c in self.categories for c in categories)


def classify(
    text: str, *, today: date, locale: str = "en", model: Model | None = None
) -> Classification:
    """Classify one reply. `today` is the date the debtor wrote it, in their own time zone; a
    promised date is read relative to it (and to `locale`, for numeric dates). `model` is the
    statistical model read beside the rules (by default the one trained on the shipped corpus)."""
    rules = rule_set()
    normalized = respelled(text)
    said = _keyword(words(normalized), rules)
    if said is not None:
        # An exact keyword is read before anything else, the model included (§6.6).
        category, rule_id = rules.keywords[said]
        return Classification(
            (category,), Facts(keyword=said, rules=(rule_id,)), 1.0, classifier_version()
        )
    found, matched, denied = read_rules(normalized)
    if model is None:
        model = trained_model()
    readings = model.probabilities(features(normalized))
    confidence, doubts = combine(found, readings, denied=denied)
    categories = ordered(set(confidence))
    matched += [f"model.{c.value}" for c in categories if c not in found and c in confidence]
    model_facts = tuple(
        (c.value, round(readings[c], 3))
        for c in ordered(set(confidence) - set(found) | {c for c, _ in doubts})
        if c in readings
    )
    if categories == (Category.UNKNOWN,):
        return Classification(
            categories, Facts(model=model_facts), 0.0, classifier_version(), doubts
        )
    promised = None
    if Category.PROMISE_TO_PAY in categories:
        promised = promise_date(normalized, today, locale)
    # The certainty of the category that decides (the most restrictive): a strong "wrong
    # number" is not doubted because a weak "balance" matched too.
    return Classification(
        categories,
        Facts(promise_date=promised, rules=tuple(dict.fromkeys(matched)), model=model_facts),
        confidence[categories[0]],
        classifier_version(),
        doubts,
    )


def read_rules(
    normalized: str,
) -> tuple[dict[Category, float], list[str], frozenset[Category]]:
    """What the phrase rules (and an opt-out keyword said as a sentence of its own) find in a
    reply, normalised and respelled: each category with its confidence, the rule ids, and the
    categories the rules read only negated ("I haven't paid", "I'm not bankrupt"), or, for the
    opt-out, only as a word used otherwise ("I'll stop by the branch", `lookalikes`)."""
    rules = rule_set()
    plain = words(normalized)
    # Chinese rules read a mixed reply with its English words written in Chinese where the
    # rule files say how ("周五 pay you" as 周五还 you), English rules read it as written.
    joined = clauses(switched(normalized))
    # English rules read the reply's words, then each of its sentences on a line of its own, so
    # that a rule anchored with ^ or $ reads "the start (end) of a sentence": "Not me. STOP or
    # I'll report you" starts a sentence with "stop".
    parts = sentences(normalized)
    english = plain if len(parts) < 2 else "\n".join([plain, *parts])
    # A rule file only reads a reply in its own script (Chinese rules also read a bare
    # number, such as the regulator's hotline): half the rules are never tried on a reply.
    latin, han = bool(LATIN.search(plain)), bool(_HAN_OR_DIGIT.search(joined))
    confidence: dict[Category, float] = {}
    matched: list[str] = []
    denied: set[Category] = set()
    for said in _standalone_keywords(normalized, rules):
        category = rules.keywords[said][0]
        confidence[category] = 1.0
        matched.append(f"sentence:{said}")
    for group in rules.groups:
        text_of_group = joined if group.chinese else english
        if not (han if group.chinese else latin) or not group.screen.search(text_of_group):
            continue
        for rule in group.rules:
            if _found(rule, text_of_group):
                confidence[rule.category] = max(confidence.get(rule.category, 0.0), rule.confidence)
                matched.append(rule.rule_id)
            elif rule.negatable and rule.pattern.search(text_of_group):
                denied.add(rule.category)
    for lookalike in rules.lookalikes:
        said = joined if lookalike.chinese else english
        if lookalike.category not in confidence and lookalike.pattern.search(said):
            denied.add(lookalike.category)
    return confidence, matched, frozenset(denied - set(confidence))


@cache
def classifier_version() -> str:
    """The version written with every decision: the rules' digest and the model's."""
    return f"{rule_set().version}+{model_version()}"


def warm_up(keep_model_in: Path | None = None) -> None:
    """Load the rules and the model now, so the first reply a process reads does not wait for
    them: the model is loaded from `keep_model_in` where an earlier process stored it, else
    trained (a few seconds) and stored there. Blocking: a server runs it in a thread at start-up."""
    blend.keep_model_in(keep_model_in)
    trained_model()
    classifier_version()


def _keyword(plain: str, rules: RuleSet) -> str | None:
    """The keyword that `plain` (a reply or one sentence of it, in `words`) is, as written, run
    together ("stop all" as STOPALL), once the courtesy words around it are set aside, said
    again and again ("td td td", "stop stop stop"), or said in both languages, every word a
    keyword of one category ("Help 帮助", "STOP 退订")."""
    bare = rules.courtesy.sub("", plain).strip() if rules.courtesy else plain
    said = bare.split(" ")
    once = said[0] if len(said) > 1 and len(set(said)) == 1 else bare
    for key in (plain, plain.replace(" ", ""), bare, bare.replace(" ", ""), once):
        if key in rules.keywords:
            return key
    categories = {rules.keywords[w][0] for w in said if w in rules.keywords}
    if len(said) > 1 and len(categories) == 1 and all(w in rules.keywords for w in said):
        return said[0]
    return None


def _standalone_keywords(normalized: str, rules: RuleSet) -> list[str]:
    """The opt-out keywords that a sentence of the reply is. A keyword of one letter (T) only
    counts as the whole reply."""
    found = []
    for sentence in sentences(normalized):
        key = _keyword(sentence, rules)
        if key is not None and rules.keywords[key][0] in _STANDALONE and len(key) > 1:
            found.append(key)
    return found


def _found(rule: Rule, text: str) -> bool:
    if not rule.negatable:
        return rule.pattern.search(text) is not None
    return any(not _negated(text, m.start(), rule.chinese) for m in rule.pattern.finditer(text))


def _negated(text: str, start: int, chinese: bool) -> bool:
    if chinese:
        return bool(_ZH_NEGATORS.search(text[max(0, start - 2) : start].rpartition(" ")[2]))
    # The three words before, within the sentence's line, passing over "be able to" and
    # "going to" ("I won't be able to pay Friday" is no promise).
    line = text[:start].rpartition("\n")[2].split()
    before = [w for w in line if w not in NEGATION_FILLERS][-3:]
    return bool(EN_NEGATORS.search(" ".join(before)))
