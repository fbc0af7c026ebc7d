"""Reading a debtor's reply: exact keywords first, then phrase rules, in English and Chinese,
then a statistical model (`model`) for what the rules missed (`combine`).

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

import hashlib
import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gateway.replies import spelling
from gateway.replies.categories import PRECEDENCE, Category, ordered
from gateway.replies.dates import promise_date
from gateway.replies.model import Model, corpus, threshold, train
from gateway.replies.model import version as model_version
from gateway.replies.text import clauses, normalize, sentences, words

RULES_DIR = Path(__file__).parent / "keywords"
RULE_LOCALES = ("en", "zh-CN")
ENGINE_VERSION = 1
DEFAULT_CONFIDENCE = 0.9
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
_EN_NEGATORS = re.compile(
    r"\b(not|never|can't|cant|cannot|won't|wont|don't|dont|didn't|didnt|haven't|havent|"
    r"hasn't|hasnt|unable|couldn't|wouldn't|isn't|wasn't|no|refuse|refusing)\b"
)
_NEGATION_FILLERS = frozenset({"be", "able", "to", "going", "gonna", "really", "even", "ever"})
_ZH_NEGATORS = re.compile(r"[不没未别]")
_LATIN = re.compile(r"[a-z]")
_HAN_OR_DIGIT = re.compile(r"[\u3400-\u9fff\uf900-\ufaff0-9]")
_LITERAL_WORD = re.compile(r"[a-z]{2,}(?:'[a-z]+)?")
# The keyword categories that a sentence of a longer reply can say on its own.
_STANDALONE = frozenset({Category.OPT_OUT_CHANNEL})


@dataclass(frozen=True, slots=True)
class Rule:
    category: Category
    rule_id: str  # "<locale>.<category>.<n>": the basis written on the case timeline
    pattern: re.Pattern[str]
    confidence: float
    negatable: bool
    chinese: bool


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


@dataclass(frozen=True, slots=True)
class RuleSet:
    keywords: dict[str, tuple[Category, str]]  # normalized keyword → (category, rule id)
    rules: tuple[Rule, ...]
    version: str
    spellings: dict[str, str] = field(default_factory=dict)  # written form → word
    groups: tuple[RuleGroup, ...] = ()
    vocabulary: frozenset[str] = frozenset()  # the words the rules are written in
    courtesy: re.Pattern[str] | None = None  # "please", "thanks", 谢谢… around a keyword
    # English words a mixed reply uses in a Chinese sentence → the Chinese word (`code_switch`).
    switch: dict[str, str] = field(default_factory=dict)
    switching: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """The rules of one category in one rule file, and one pattern matching where any of them
    does: a reply is searched once per group, and rule by rule only where the group matched."""

    chinese: bool
    screen: re.Pattern[str]
    rules: tuple[Rule, ...]


def _groups(rules: list[Rule]) -> tuple[RuleGroup, ...]:
    grouped: dict[tuple[bool, Category], list[Rule]] = {}
    for rule in rules:
        grouped.setdefault((rule.chinese, rule.category), []).append(rule)
    return tuple(
        RuleGroup(
            chinese,
            re.compile("|".join(f"(?:{r.pattern.pattern})" for r in listed), re.MULTILINE),
            tuple(listed),
        )
        for (chinese, _), listed in grouped.items()
    )


def classify(
    text: str, *, today: date, locale: str = "en", model: Model | None = None
) -> Classification:
    """Classify one reply. `today` is the date the debtor wrote it, in their own time zone; a
    promised date is read relative to it (and to `locale`, for numeric dates). `model` is the
    statistical model read beside the rules (by default the one trained on the shipped corpus)."""
    rules = rule_set()
    normalized = spelling.respell(normalize(text), rules.spellings, rules.vocabulary)
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
    categories the rules read only negated ("I haven't paid", "I'm not bankrupt")."""
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
    latin, han = bool(_LATIN.search(plain)), bool(_HAN_OR_DIGIT.search(joined))
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
    return confidence, matched, frozenset(denied - set(confidence))


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
      restrictive of the two, and otherwise dropped;
    - a dispute the model alone reads is not applied where it finds a wrong party likely too
      (`WRONG_PARTY_DOUBT`): a stranger's "not mine" is never read as only a dispute."""
    limit = thresholds.get if thresholds is not None else None
    confidence = dict(found)
    doubts: dict[Category, float] = {}
    for category, p in readings.items():
        wanted = limit(category, threshold(category)) if limit else threshold(category)
        if category in found or category in denied or p < wanted:
            continue
        near = [n for n in NEIGHBOURS.get(category, ()) if n in found]
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
        out.append(f"not_{word}" if left and word not in _NEGATION_FILLERS else word)
        if _EN_NEGATORS.fullmatch(word):
            left = 1
        elif word not in _NEGATION_FILLERS:
            left = 0
    return " ".join(out)


def trained_model() -> Model:
    """The model trained on the shipped corpus, once per process: a second caller waits for the
    training under way (the warm-up's, `warm_up`) rather than training again."""
    with _TRAINING:
        return _trained_model()


def model_ready() -> bool:
    """Whether this process has trained the model already (a reply is read without waiting)."""
    return _trained_model.cache_info().currsize > 0


def warm_up() -> None:
    """Load the rules and train the model now (about two seconds), so the first reply a process
    reads does not wait for them. Blocking: a server runs it in a thread at start-up."""
    trained_model()
    classifier_version()


_TRAINING = threading.Lock()


@cache
def _trained_model() -> Model:
    rules = rule_set()
    replies = corpus().replies
    texts = [
        features(spelling.respell(normalize(r.text), rules.spellings, rules.vocabulary))
        for r in replies
    ]
    return train(texts, [r.expect for r in replies])


@cache
def classifier_version() -> str:
    """The version written with every decision: the rules' digest and the model's."""
    return f"{rule_set().version}+{model_version()}"


def _keyword(plain: str, rules: RuleSet) -> str | None:
    """The keyword that `plain` (a reply or one sentence of it, in `words`) is, as written, run
    together ("stop all" as STOPALL) or once the courtesy words around it are set aside."""
    bare = rules.courtesy.sub("", plain).strip() if rules.courtesy else plain
    for key in (plain, plain.replace(" ", ""), bare, bare.replace(" ", "")):
        if key in rules.keywords:
            return key
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
    before = [w for w in line if w not in _NEGATION_FILLERS][-3:]
    return bool(_EN_NEGATORS.search(" ".join(before)))


@cache
def rule_set() -> RuleSet:
    """The rules of every locale, loaded once per process."""
    keywords: dict[str, tuple[Category, str]] = {}
    rules: list[Rule] = []
    spellings: dict[str, str] = {}
    vocabulary: set[str] = set()
    courtesy: set[str] = set()
    switch: dict[str, str] = {}
    digest = hashlib.sha256()
    for locale in RULE_LOCALES:
        path = RULES_DIR / f"{locale}.yaml"
        raw = path.read_bytes()
        digest.update(raw)
        data = yaml.safe_load(raw) or {}
        spellings |= spelling.table(
            data.get("spellings") or {},
            data.get("typo_tolerant") or [],
            data.get("not_typos") or [],
        )
        vocabulary |= {str(w).casefold() for w in data.get("typo_tolerant") or []}
        vocabulary |= {str(w).casefold() for w in (data.get("spellings") or {}).values()}
        courtesy |= {words(normalize(str(w))) for w in data.get("courtesy") or []}
        switch |= {
            words(normalize(str(k))): str(v) for k, v in (data.get("code_switch") or {}).items()
        }
        for name, listed in (data.get("keywords") or {}).items():
            category = _category(path, name)
            for word in listed or []:
                key = words(normalize(str(word)))
                keywords[key] = (category, f"keyword:{key}")
                vocabulary |= set(key.split())
        defined = {
            f"{{{name}}}": str(fragment) for name, fragment in (data.get("define") or {}).items()
        }
        for name, listed in (data.get("rules") or {}).items():
            category = _category(path, name)
            for index, spec in enumerate(listed or [], start=1):
                rules.append(_rule(path, locale, category, index, spec, defined))
    for rule in rules:
        if not rule.chinese:
            vocabulary |= set(_LITERAL_WORD.findall(rule.pattern.pattern))
    version = f"rules-{ENGINE_VERSION}.{digest.hexdigest()[:10]}"
    return RuleSet(
        keywords,
        tuple(rules),
        version,
        spellings,
        _groups(rules),
        frozenset(vocabulary),
        _edges(courtesy),
        switch,
        spelling.switching(switch),
    )


def _edges(courtesy: set[str]) -> re.Pattern[str] | None:
    """One pattern for any run of courtesy words at the start or the end of a sentence (an
    English one as a whole word, a Chinese one also written against the keyword: 退订谢谢)."""
    if not courtesy:
        return None
    ordered_words = sorted((w for w in courtesy if w), key=len, reverse=True)
    latin = "|".join(re.escape(w) for w in ordered_words if _LATIN.search(w))
    han = "|".join(re.escape(w) for w in ordered_words if not _LATIN.search(w))
    one = "|".join(p for p in (latin and rf"\b(?:{latin})\b", han and rf"(?:{han})") if p)
    return re.compile(rf"^(?:(?:{one}) ?)+|(?: ?(?:{one}))+$")


def _category(path: Path, name: str) -> Category:
    try:
        return Category(name)
    except ValueError:
        raise ValueError(f"{path.name}: unknown category {name!r}") from None


def _rule(
    path: Path, locale: str, category: Category, index: int, spec: Any, defined: dict[str, str]
) -> Rule:
    if isinstance(spec, str):
        spec = {"pattern": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("pattern"), str):
        raise ValueError(f"{path.name}: {category.value}[{index}]: expected a pattern")
    source = spec["pattern"]
    # A fragment named under `define` is written {NAME} in a pattern (upper case, so it never
    # reads as a regex repetition like {2,3}).
    for name, fragment in defined.items():
        source = source.replace(name, fragment)
    try:
        pattern = re.compile(source, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"{path.name}: {category.value}[{index}]: {exc}") from None
    return Rule(
        category,
        f"{locale}.{category.value}.{index}",
        pattern,
        float(spec.get("confidence", DEFAULT_CONFIDENCE)),
        bool(spec.get("negatable", False)),
        chinese=locale.startswith("zh"),
    )
