"""The reply rules: the rule files (`keywords/<locale>.yaml`) loaded once per process into
keywords, phrase rules grouped by category and script, the respellings and the words the rules
are written in, with a digest that versions them. Pure data and regular expressions."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gateway.replies import spelling
from gateway.replies.categories import Category
from gateway.replies.text import normalize, words

RULES_DIR = Path(__file__).parent / "keywords"
RULE_LOCALES = ("en", "zh-CN")
ENGINE_VERSION = 1
DEFAULT_CONFIDENCE = 0.9
# An English negator, and the words between it and what it negates ("won't be able to pay").
EN_NEGATORS = re.compile(
    r"\b(not|never|can't|cant|cannot|won't|wont|don't|dont|didn't|didnt|haven't|havent|"
    r"hasn't|hasnt|unable|couldn't|wouldn't|isn't|wasn't|no|refuse|refusing)\b"
)
NEGATION_FILLERS = frozenset({"be", "able", "to", "going", "gonna", "really", "even", "ever"})
LATIN = re.compile(r"[a-z]")
_LITERAL_WORD = re.compile(r"[a-z]{2,}(?:'[a-z]+)?")


@dataclass(frozen=True, slots=True)
class Rule:
    category: Category
    rule_id: str  # "<locale>.<category>.<n>": the basis written on the case timeline
    pattern: re.Pattern[str]
    confidence: float
    negatable: bool
    chinese: bool


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
    # The words that matter, for cutting words run together ("stoptexting"): the keywords' and
    # the typo-tolerant ones.
    anchors: frozenset[str] = frozenset()
    # What only looks like a category ("stop by the branch", "bus stop", "my new number"):
    # where no rule reads that category, the model may not read it either (`lookalikes`).
    lookalikes: tuple[Lookalike, ...] = ()


@dataclass(frozen=True, slots=True)
class Lookalike:
    category: Category
    chinese: bool
    pattern: re.Pattern[str]


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


@cache
def rule_set() -> RuleSet:
    """The rules of every locale, loaded once per process."""
    keywords: dict[str, tuple[Category, str]] = {}
    rules: list[Rule] = []
    spellings: dict[str, str] = {}
    vocabulary: set[str] = set()
    courtesy: set[str] = set()
    switch: dict[str, str] = {}
    anchors: set[str] = set()
    lookalikes: list[Lookalike] = []
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
        anchors |= {str(w).casefold() for w in data.get("typo_tolerant") or []}
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
                anchors |= {w for w in key.split() if len(w) > 1}
        defined = {
            f"{{{name}}}": str(fragment) for name, fragment in (data.get("define") or {}).items()
        }
        for name, listed in (data.get("lookalikes") or {}).items():
            joined = "|".join(f"(?:{p})" for p in listed or [])
            if joined:
                lookalike = re.compile(joined, re.MULTILINE)
                lookalikes.append(Lookalike(_category(path, name), locale != "en", lookalike))
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
        frozenset(anchors),
        tuple(lookalikes),
    )


def respelled(text: str) -> str:
    """A reply as the rules and the model read it: normalised (`text.normalize`), then respelled
    with the rule files' spellings (`spelling.respell`)."""
    rules = rule_set()
    return spelling.respell(normalize(text), rules.spellings, rules.vocabulary, rules.anchors)


def _edges(courtesy: set[str]) -> re.Pattern[str] | None:
    """One pattern for any run of courtesy words at the start or the end of a sentence (an
    English one as a whole word, a Chinese one also written against the keyword: 退订谢谢)."""
    if not courtesy:
        return None
    ordered_words = sorted((w for w in courtesy if w), key=len, reverse=True)
    latin = "|".join(re.escape(w) for w in ordered_words if LATIN.search(w))
    han = "|".join(re.escape(w) for w in ordered_words if not LATIN.search(w))
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
