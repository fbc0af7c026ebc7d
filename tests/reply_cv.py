"""Cross-validation of the reply classifier on the training corpus only
(gateway/replies/corpus/train.yaml): `python -m tests.reply_cv [--sweep]`.

The replies are cut into five folds, near-duplicates kept in one fold (replies whose character
n-grams are alike are grouped, so a paraphrase with one word changed does not leak into the fold
that scores it). For each fold the model is trained on the other four and reads the fold; the
rules read every reply as they are. Printed per category: recall and precision of the rules
alone, the model alone (at its thresholds), and the two combined as the classifier combines them
(`blend.combine`), then how many replies the model's doubts send to a person.

The rules were written from these very replies, so their figures here are optimistic; the
model's are the honest estimate of what it reads in phrasings it has not seen. With --sweep, the
threshold of each category that keeps the combined precision at its target is searched (the
targets below), the way `model.THRESHOLDS` were chosen.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.replies import PRECEDENCE, Category
from gateway.replies.blend import combine, features
from gateway.replies.categories import ordered
from gateway.replies.classifier import _keyword, read_rules
from gateway.replies.model import CATEGORIES, KEYWORD_ONLY, NEVER, corpus, threshold, train
from gateway.replies.rules import respelled, rule_set
from gateway.replies.text import words

C = Category
FOLDS = 5
NEAR_DUPLICATE = 0.6  # cosine of character 2–4-gram TF-IDF at which two replies are one group
# Precision the combination must keep where a false reading costs most (see model.THRESHOLDS).
CRITICAL = frozenset(
    {
        C.WRONG_PARTY,
        C.CEASE_ALL,
        C.OPT_OUT_CHANNEL,
        C.DECEASED,
        C.LEGAL_HOLD_BANKRUPTCY,
        C.LEGAL_HOLD_ATTORNEY,
        C.BREATHING_SPACE,
    }
)
CRITICAL_PRECISION = 0.9
OTHER_PRECISION = 0.8
# Never below 0.5: the model adds only what it finds more likely than not.
SWEEP = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
STOP_FAMILY = frozenset({C.OPT_OUT_CHANNEL, C.CEASE_ALL})


@dataclass(slots=True)
class Read:
    """One reply as the rules read it, and its labels."""

    expect: frozenset[Category]
    keyword: Category | None
    found: dict[Category, float]  # what every rule finds
    denied: frozenset[Category]  # what the rules read only negated
    matched: dict[str, tuple[Category, float]]  # each matching rule: its category, confidence
    features: str
    # What the rules find that also read a reply of the other folds right (set per fold).
    held_out: dict[Category, float] = field(default_factory=dict)


def prepare() -> list[Read]:
    rules = rule_set()
    by_id = {rule.rule_id: (rule.category, rule.confidence) for rule in rules.rules}
    out = []
    for reply in corpus().replies:
        normalized = respelled(reply.text)
        said = _keyword(words(normalized), rules)
        keyword = rules.keywords[said][0] if said is not None else None
        found, ids, denied = (
            ({}, [], frozenset()) if keyword is not None else read_rules(normalized)
        )
        matched = {
            i: by_id[i] if i in by_id else (rules.keywords[i.partition(":")[2]][0], 1.0)
            for i in ids
        }
        out.append(Read(reply.expect, keyword, found, denied, matched, features(normalized)))
    return out


def hold_out_rules(reads: Sequence[Read], fit: Sequence[int], held: Sequence[int]) -> None:
    """The rules as if written from the fitting folds only: a phrase rule that reads no reply of
    those folds right was written for the held-out replies and is set aside for them (an opt-out
    keyword said as a sentence is a keyword of the rule book and always kept)."""
    supported = {
        rule_id
        for i in fit
        for rule_id, (category, _) in reads[i].matched.items()
        if category in reads[i].expect
    }
    for i in held:
        kept: dict[Category, float] = {}
        for rule_id, (category, confidence) in reads[i].matched.items():
            if rule_id in supported or rule_id.startswith("sentence:"):
                kept[category] = max(kept.get(category, 0.0), confidence)
        reads[i].held_out = kept


def groups(texts: Sequence[str]) -> list[int]:
    """A group number per reply: replies alike (transitively) share one."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit_transform(texts)
    similar = (matrix @ matrix.T).tocoo()
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, value in zip(similar.row, similar.col, similar.data, strict=True):
        if i < j and value >= NEAR_DUPLICATE:
            parent[root(int(j))] = root(int(i))
    return [root(i) for i in range(len(texts))]


def out_of_fold(reads: Sequence[Read]) -> tuple[list[dict[Category, float]], int]:
    """The model's probabilities for each reply, from a model that never saw its group."""
    from sklearn.model_selection import GroupKFold

    texts = [r.features for r in reads]
    grouped = groups(texts)
    readings: list[dict[Category, float]] = [{} for _ in reads]
    for fit, held in GroupKFold(n_splits=FOLDS).split(texts, groups=grouped):
        hold_out_rules(reads, fit, held)
        model = train([texts[i] for i in fit], [reads[i].expect for i in fit])
        for i, probs in zip(held, model.probabilities_many([texts[i] for i in held]), strict=True):
            readings[i] = probs
    return readings, len(set(grouped))


@dataclass
class Tally:
    tp: Counter[Category]
    fp: Counter[Category]
    fn: Counter[Category]
    stop_found: int = 0
    stop_labelled: int = 0
    wrong_party_as_dispute: int = 0
    doubted: int = 0

    def recall(self, c: Category) -> float:
        n = self.tp[c] + self.fn[c]
        return self.tp[c] / n if n else 1.0

    def precision(self, c: Category) -> float:
        n = self.tp[c] + self.fp[c]
        return self.tp[c] / n if n else 1.0

    @property
    def overall(self) -> float:
        tp, fn = sum(self.tp.values()), sum(self.fn.values())
        return tp / (tp + fn) if tp + fn else 1.0


def tally(
    reads: Sequence[Read],
    readings: Sequence[Mapping[Category, float]],
    how: str,
    thresholds: Mapping[Category, float] | None = None,
) -> Tally:
    """Score each reply read by `how`: rules, model or combined, or rules* and combined*
    (with the rules as if written from the other folds)."""
    t = Tally(Counter(), Counter(), Counter())
    got: tuple[Category, ...]
    for read, probs in zip(reads, readings, strict=True):
        doubts: tuple[tuple[Category, float], ...] = ()
        if how == "model":
            # The model on its own, exact keywords included: what it would read unaided.
            limit = thresholds or {}
            got = ordered({c for c, p in probs.items() if p >= limit.get(c, threshold(c))})
        elif read.keyword is not None:
            got = (read.keyword,)
        elif how == "rules":
            got = ordered(set(read.found))
        elif how == "rules*":
            got = ordered(set(read.held_out))
        else:
            rules = read.found if how == "combined" else read.held_out
            confidence, doubts = combine(rules, probs, thresholds, read.denied)
            got = ordered(set(confidence))
        t.doubted += bool(doubts)
        for c in Category:
            said, wanted = c in got, c in read.expect
            t.tp[c] += said and wanted
            t.fp[c] += said and not wanted
            t.fn[c] += wanted and not said
        if read.expect & STOP_FAMILY:
            t.stop_labelled += 1
            t.stop_found += read.expect & STOP_FAMILY <= set(got)
        if C.WRONG_PARTY in read.expect and C.WRONG_PARTY not in got and C.DISPUTE in got:
            t.wrong_party_as_dispute += 1
    return t


def sweep(
    reads: Sequence[Read], readings: Sequence[Mapping[Category, float]]
) -> dict[Category, float]:
    """For each category the model may add, the lowest threshold at which both the model alone
    and the combination keep their precision target (the combination: or the rules' own
    precision, where that is lower), the highest recall that allows; 1.01 (never added) where
    none does. The model alone is the one that counts: on replies the rules
    miss, what the model adds is as precise as the model is."""
    chosen: dict[Category, float] = {}
    rules = tally(reads, readings, "rules*")
    for category in CATEGORIES:
        if category in KEYWORD_ONLY:
            continue
        target = CRITICAL_PRECISION if category in CRITICAL else OTHER_PRECISION
        chosen[category] = NEVER
        for value in SWEEP:
            alone = tally(reads, readings, "model", {category: value})
            both = tally(reads, readings, "combined*", {category: value})
            right, wrong = added(reads, readings, category, value)
            if (
                alone.precision(category) >= target
                and both.precision(category) >= min(target, rules.precision(category))
                and right >= wrong
            ):
                chosen[category] = value
                break
    return chosen


def added(
    reads: Sequence[Read],
    readings: Sequence[Mapping[Category, float]],
    category: Category,
    value: float | None = None,
) -> tuple[int, int]:
    """How often the model adds `category` to the rules* (combined*) rightly, and wrongly."""
    right = wrong = 0
    limit = {category: value} if value is not None else None
    for read, probs in zip(reads, readings, strict=True):
        if read.keyword is not None or category in read.held_out:
            continue
        if category in combine(read.held_out, probs, limit, read.denied)[0]:
            right += category in read.expect
            wrong += category not in read.expect
    return right, wrong


def table(
    reads: Sequence[Read],
    readings: Sequence[Mapping[Category, float]],
    thresholds: Mapping[Category, float] | None = None,
) -> list[str]:
    scored = {
        how: tally(reads, readings, how, thresholds)
        for how in ("rules", "combined", "model", "rules*", "combined*")
    }
    head = (
        f"{'category':<23}{'n':>5}  "
        + "".join(f"{how + ' R':>12}{'P':>8}" for how in scored)
        + "  added    t"
    )
    lines = [head]
    for c in PRECEDENCE:
        n = scored["rules"].tp[c] + scored["rules"].fn[c]
        if not n:
            continue
        cells = "".join(f"{s.recall(c):12.1%}{s.precision(c):8.1%}" for s in scored.values())
        mark = "*" if c in CRITICAL else " "
        right, wrong = added(reads, readings, c, (thresholds or {}).get(c))
        lines.append(
            f"{c.value:<23}{n:>5}  {cells}  {right:>3}/{right + wrong:<3} {_limit(c, thresholds):.2f}"
            f" {mark}"
        )
    lines.append(
        f"{'STOP family':<23}{scored['rules'].stop_labelled:>5}  "
        + "".join(f"{s.stop_found / s.stop_labelled:12.1%}{'':>8}" for s in scored.values())
    )
    lines.append(
        f"{'overall (labels)':<23}{'':>5}  "
        + "".join(f"{s.overall:12.1%}{'':>8}" for s in scored.values())
    )
    lines.append(
        f"{'wrong party as dispute':<23}{'':>5}  "
        + "".join(f"{s.wrong_party_as_dispute:12d}{'':>8}" for s in scored.values())
    )
    lines.append(
        "replies doubted by the model: "
        f"{scored['combined'].doubted} (combined), {scored['combined*'].doubted} (combined*)"
    )
    lines.append("* safety-critical: precision target " + f"{CRITICAL_PRECISION:.0%}")
    return lines


def _limit(c: Category, thresholds: Mapping[Category, float] | None) -> float:
    return (thresholds or {}).get(c, threshold(c))


def confusions(reads: Sequence[Read], readings: Sequence[Mapping[Category, float]]) -> list[str]:
    """What the model adds wrongly (combined*), by the category it adds and what the rules found
    on the same reply: the pairs it confuses (`blend.NEIGHBOURS`)."""
    wrong: Counter[tuple[Category, str]] = Counter()
    right: Counter[Category] = Counter()
    for read, probs in zip(reads, readings, strict=True):
        if read.keyword is not None:
            continue
        confidence, _ = combine(read.held_out, probs, denied=read.denied)
        for c in set(confidence) - set(read.held_out):
            if c in read.expect:
                right[c] += 1
            else:
                beside = ",".join(x.value for x in ordered(set(read.held_out)))
                wrong[c, beside] += 1
    lines = ["what the model adds (combined*): right, and wrong beside what the rules found"]
    for c in PRECEDENCE:
        listed = sorted(((n, b) for (x, b), n in wrong.items() if x is c), reverse=True)
        if right[c] or listed:
            cut = ", ".join(f"{b} {n}" for n, b in listed)
            lines.append(
                f"  {c.value:<21} right {right[c]:>3}, wrong {sum(n for n, _ in listed):>3}: {cut}"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="search the thresholds")
    args = parser.parse_args(argv)
    started = time.monotonic()
    reads = prepare()
    readings, group_count = out_of_fold(reads)
    print(
        f"{len(reads)} training replies in {group_count} groups of near-duplicates, "
        f"{FOLDS}-fold grouped cross-validation"
    )
    print(
        "R = recall, P = precision; rules*, combined*: each fold read without the phrase rules "
        "that read\nno reply of the other folds right; added: what the model adds to the rules* "
        "that is right,\nof all it adds; t: the model's threshold for the category\n"
    )
    thresholds = None
    if args.sweep:
        thresholds = sweep(reads, readings)
        print("swept thresholds:", {c.value: v for c, v in thresholds.items()})
    for line in table(reads, readings, thresholds):
        print(line)
    print()
    for line in confusions(reads, readings):
        print(line)
    print(f"\n({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
