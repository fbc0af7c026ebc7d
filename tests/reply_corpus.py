"""The labelled reply corpus and how the classifier is scored on it: the training part ships with
the package (gateway/replies/corpus/train.yaml, which the model is trained on), the blind part is
tests/fixtures/replies/heldout-8.yaml (heldout-3 to heldout-7 were scored, then read, and joined
train; heldout-8 is written blind, by someone who saw only compliance.md). Scored:
recall per category, the STOP family (a request to stop read as asked, or as a cease of all
contact) and wrong party on their own, the promised dates, and the wrong-party replies read as
nothing but a dispute (a stranger's number kept for debt messages).

A category is found when the classifier names it among the reply's categories; UNKNOWN is found
only when nothing else is. Recall is over labels: a reply carrying two counts twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from gateway.replies import PRECEDENCE, Category, Classification, classify
from gateway.replies.model import CORPUS_PATH

CORPUS = Path(__file__).resolve().parent / "fixtures" / "replies"  # the blind part
TRAIN_PATH = CORPUS_PATH  # the training part, in the package
C = Category
# What the rule book treats as a request to stop (§1.6, §6.6 #7, #9): a channel opt-out and a
# request to stop all contact.
STOP_FAMILY = frozenset({C.OPT_OUT_CHANNEL, C.CEASE_ALL})
DEFAULT_LOCALE = {"en": "en", "zh": "zh-CN", "mixed": "zh-CN"}


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    lang: str
    expect: frozenset[Category]
    promise: date | None
    locale: str
    today: date  # the day it was written: its promised date is read on that day


@dataclass
class Score:
    """What the classifier found of each label, and the replies it got wrong."""

    name: str
    replies: int = 0
    found: Counter[str] = field(default_factory=Counter)
    labelled: Counter[str] = field(default_factory=Counter)
    # Left out of the repr: a failed assertion prints the objects it compared, and a blind part's
    # replies must never be printed.
    misses: list[tuple[Reply, Classification]] = field(default_factory=list, repr=False)
    wrong_dates: list[tuple[Reply, date | None]] = field(default_factory=list, repr=False)
    promises: int = 0
    wrong_party_as_dispute: list[Reply] = field(default_factory=list, repr=False)
    stops_read_wider: int = 0  # a channel's opt-out read as a cease of all contact

    def recall(self, key: str) -> float:
        return self.found[key] / self.labelled[key] if self.labelled[key] else 1.0

    @property
    def overall(self) -> float:
        labels = sum(self.labelled[c.value] for c in C)
        return sum(self.found[c.value] for c in C) / labels if labels else 1.0

    def table(self, texts: bool = True) -> list[str]:
        """The recall table, one line per category present, then the totals and every miss;
        without `texts`, how many were missed but not which (a blind part stays blind: nobody
        reading the test output learns its replies)."""
        lines = [f"reply corpus, {self.name}: {self.replies} replies", f"{'category':<24}found"]
        for category in PRECEDENCE:
            if self.labelled[category.value]:
                lines.append(self._row(category.value))
        lines.append(self._row("STOP family"))
        lines.append(f"{'  of them read wider':<24}{self.stops_read_wider}")
        lines.append(f"{'overall':<24}{self.overall:7.1%}")
        lines.append(f"{'wrong party as dispute':<24}{len(self.wrong_party_as_dispute)}")
        lines.append(
            f"{'promise dates':<24}{self.promises - len(self.wrong_dates)}/{self.promises}"
        )
        if not texts:
            lines.append(
                f"{'replies missed':<24}{len(self.misses)} (texts not shown: a blind part)"
            )
            return lines
        for reply, result in self.misses:
            got = ",".join(c.value for c in result.categories)
            wanted = ",".join(sorted(c.value for c in reply.expect))
            lines.append(f"  missed {wanted} in {reply.text!r}: read {got}")
        for reply, got_date in self.wrong_dates:
            lines.append(f"  promise {reply.promise} read as {got_date} in {reply.text!r}")
        return lines

    def _row(self, key: str) -> str:
        found, labelled = self.found[key], self.labelled[key]
        return f"{key:<24}{self.recall(key):7.1%}  {found}/{labelled}"


def load(name: str) -> tuple[date, list[Reply]]:
    """The corpus part `name` (train, heldout-8) and the day its replies were written (a reply
    written on another day names its own `today`)."""
    path = TRAIN_PATH if name == "train" else CORPUS / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    replies = [
        Reply(
            str(item["text"]),
            item["lang"],
            frozenset(Category(c) for c in item["expect"]),
            item.get("promise"),
            item.get("locale", DEFAULT_LOCALE[item["lang"]]),
            item.get("today", data["today"]),
        )
        for item in data["replies"]
    ]
    return data["today"], replies


def score(name: str) -> Score:
    """Classify every reply of the corpus part `name` and count what was found."""
    _, replies = load(name)
    result = Score(name, len(replies))
    for reply in replies:
        read = classify(reply.text, today=reply.today, locale=reply.locale)
        found = set(read.categories)
        missed = False
        for category in reply.expect:
            result.labelled[category.value] += 1
            hit = read.categories == (C.UNKNOWN,) if category is C.UNKNOWN else category in found
            result.found[category.value] += hit
            missed |= not hit
        if reply.expect & STOP_FAMILY:
            # A request to stop is honoured when it is read as wide as it was asked, or wider: a
            # cease of all contact stops the channel too (it is counted apart, as read wider).
            result.labelled["STOP family"] += 1
            as_asked = reply.expect & STOP_FAMILY <= found
            result.found["STOP family"] += as_asked or C.CEASE_ALL in found
            result.stops_read_wider += not as_asked and C.CEASE_ALL in found
        if C.WRONG_PARTY in reply.expect and C.WRONG_PARTY not in found and C.DISPUTE in found:
            result.wrong_party_as_dispute.append(reply)
        if missed:
            result.misses.append((reply, read))
        if reply.promise is not None:
            result.promises += 1
            if read.facts.promise_date != reply.promise:
                result.wrong_dates.append((reply, read.facts.promise_date))
    return result
