"""One spelling for the words a reply turns on, so rules are written once in plain English: text
speak and contractions typed without an apostrophe ("u", "pls", "dont") become the words they
stand for, and a slip of one key in a word that matters ("stopp", "sotp", "wrng", "unsubscrib")
is read as that word. A letter held down for emphasis ("stooop", "nooo", "pleeease") is read once,
or twice where only that spells a word the rules know ("callll" → "call").

Both come from the rule files: `spellings` maps a written form to the word, and the one-typo
variants of every word listed under `typo_tolerant` are generated when the rules are loaded, so
reading a reply is one dictionary look-up per word.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Iterable, Mapping

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
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


def respell(text: str, words: Mapping[str, str], vocabulary: Collection[str] = ()) -> str:
    """`text` (normalized: lower case) with every word in `words` spelled as it says; the rest,
    punctuation and other scripts included, as it was. A letter typed three times or more in a
    word is read once, or twice when only that makes a word of `vocabulary` (the words the rules
    are written in) or of `words`."""
    if not words and not vocabulary:
        return text

    def one(m: re.Match[str]) -> str:
        word = m[0]
        if word in words:
            return words[word]
        if not _RUN.search(word):
            return word
        once, twice = _RUN.sub(r"\1", word), _RUN.sub(r"\1\1", word)
        for form in (once, twice):
            if form in vocabulary:
                return form
            if form in words:
                return words[form]
        return once

    return _WORD.sub(one, text)


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
