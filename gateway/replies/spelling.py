"""One spelling for the words a reply turns on, so rules are written once in plain English: text
speak and contractions typed without an apostrophe ("u", "pls", "dont") become the words they
stand for, and a slip of one key in a word that matters ("stopp", "sotp", "wrng", "unsubscrib")
is read as that word. A letter held down for emphasis ("stooop", "nooo", "pleeease") is read once,
or twice where only that spells a word the rules know ("callll" → "call").

Words typed without the spaces between them ("stoptexting", "notmynumber", "LEAVEMEALONE") are
read apart, where the run cuts into words the rules are written in, one of them a word that
matters (`split`).

Both come from the rule files: `spellings` maps a written form to the word, and the one-typo
variants of every word listed under `typo_tolerant` are generated when the rules are loaded, so
reading a reply is one dictionary look-up per word.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Iterable, Mapping

# A word as the spellings read it, digits included ("any1", "b4", "2moro").
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")
_RUN = re.compile(r"([a-z])\1{2,}")
# Shorter words have too many real neighbours ("stop" → "step", "shop"): only a swapped pair of
# letters or a doubled letter is read as a slip there; from five letters on also a letter left
# out (not the first: "wrng", "numbr"), and from seven on any single edit.
_DROP_FROM = 5
_ANY_EDIT_FROM = 7


def variants(word: str) -> set[str]:
    """The spellings one slip away from `word`: a letter doubled or two neighbours swapped; for
    a word of five letters or more also a letter dropped; from seven also a letter added or
    replaced."""
    found = {word[:i] + word[i] + word[i:] for i in range(len(word))}
    found |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    if len(word) >= _DROP_FROM:
        found |= {word[:i] + word[i + 1 :] for i in range(1, len(word))}
    if len(word) >= _ANY_EDIT_FROM:
        for i in range(len(word) + 1):
            found.add(word[:i] + word[i + 1 :])
            for letter in string.ascii_lowercase:
                found.add(word[:i] + letter + word[i:])
                found.add(word[:i] + letter + word[i + 1 :])
    found.discard(word)
    return found


def table(
    spellings: Mapping[str, str], tolerant: Iterable[str], exceptions: Iterable[str]
) -> dict[str, str]:
    """Written form → word. Explicit spellings win over generated variants; a variant that is
    itself a word of the vocabulary, or listed as an exception, stays as written."""
    tolerant = [w.casefold() for w in tolerant]
    keep = set(tolerant) | {w.casefold() for w in exceptions}
    out: dict[str, str] = {}
    for word in tolerant:
        for variant in variants(word):
            if variant not in keep:
                out.setdefault(variant, word)
    out.update({k.casefold(): v.casefold() for k, v in spellings.items()})
    return out


def respell(
    text: str,
    words: Mapping[str, str],
    vocabulary: Collection[str] = (),
    anchors: Collection[str] = (),
) -> str:
    """`text` (normalized: lower case) with every word in `words` spelled as it says; the rest,
    punctuation and other scripts included, as it was. A letter typed three times or more in a
    word is read once, or twice when only that makes a word of `vocabulary` (the words the rules
    are written in) or of `words`. A long word that is none of these is read as the words run
    together in it (`split`), where one of them is among `anchors`."""
    if not words and not vocabulary:
        return text

    def one(m: re.Match[str]) -> str:
        word = m[0]
        if word in words:
            return words[word]
        if _RUN.search(word):
            once, twice = _RUN.sub(r"\1", word), _RUN.sub(r"\1\1", word)
            for form in (once, twice):
                if form in vocabulary:
                    return form
                if form in words:
                    return words[form]
            word = once
        if anchors and word not in vocabulary:
            pieces = split(word, words, vocabulary)
            if pieces and any(words.get(p, p) in anchors for p in pieces):
                return " ".join(words.get(p, p) for p in pieces)
        return word

    return _WORD.sub(one, text)


# A run is only cut from this length on, into at most this many words, none of one letter but
# these: "together" is no "to get her" (no word of it matters), "stoptexting" is "stop texting".
_SPLIT_FROM = 8
_SPLIT_MOST = 5
_SPLIT_LONGEST = 40
_ONE_LETTER = frozenset({"i", "u"})
# Endings that are words of the rules' patterns ("(ing)?") but never a word of a reply: a word
# that ends so is an inflection ("stopping"), not two words.
_ENDINGS = frozenset(
    {"ing", "ed", "er", "ers", "es", "ly", "ness", "ment", "ments", "tion", "able"}
)


def split(word: str, words: Mapping[str, str], vocabulary: Collection[str]) -> list[str] | None:
    """`word` cut into the fewest words of `vocabulary` or `words` (text speak: "im", "u"), or
    None where it cannot be, is too short or too long to try, or would be cut too fine."""
    if not _SPLIT_FROM <= len(word) <= _SPLIT_LONGEST or not word.isalpha():
        return None
    # best[i]: the fewest pieces that spell word[:i], as (count, cut before the last piece).
    best: list[tuple[int, int] | None] = [None] * (len(word) + 1)
    best[0] = (0, 0)
    for end in range(1, len(word) + 1):
        for start in range(end):
            before = best[start]
            piece = word[start:end]
            if before is None or (len(piece) == 1 and piece not in _ONE_LETTER):
                continue
            if piece in _ENDINGS or (piece not in vocabulary and piece not in words):
                continue
            current = best[end]
            if current is None or before[0] + 1 < current[0]:
                best[end] = (before[0] + 1, start)
    found = best[len(word)]
    if found is None or not 2 <= found[0] <= _SPLIT_MOST:
        return None
    pieces, end = [], len(word)
    while end:
        step = best[end]
        assert step is not None
        pieces.append(word[step[1] : end])
        end = step[1]
    return pieces[::-1]


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def switching(table: Mapping[str, str]) -> re.Pattern[str] | None:
    """One pattern for the English words and phrases of a code-switching table, longest first,
    each as whole words."""
    if not table:
        return None
    listed = sorted(table, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(k) for k in listed) + r")\b")


def code_switch(text: str, table: Mapping[str, str], pattern: re.Pattern[str] | None) -> str:
    """A reply that mixes Chinese and English (normalized, respelled) with the English words of
    `table` written in Chinese, so the Chinese rules read "我请了 attorney" as 我请了律师 and
    "这个月底 settle 掉" as 这个月底还清掉. A reply in one script is returned as it is."""
    if pattern is None or not _HAN.search(text) or not _LATIN_WORD.search(text):
        return text
    return pattern.sub(lambda m: table[m[0]], text)


_LATIN_WORD = re.compile(r"[a-z]{2,}")
