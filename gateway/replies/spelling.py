"""One spelling for the words a reply turns on, so rules are written once in plain English: text
speak and contractions typed without an apostrophe ("u", "pls", "dont") become the words they
stand for, and a slip of one key in a word that matters ("stopp", "sotp", "unsubscrib") is read
as that word.

Both come from the rule files: `spellings` maps a written form to the word, and the one-typo
variants of every word listed under `typo_tolerant` are generated when the rules are loaded, so
reading a reply is one dictionary look-up per word.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
# Shorter words have too many real neighbours ("stop" → "step", "shop"): only a swapped pair of
# letters or a doubled letter is read as a slip there; from this length on, any single edit.
_ANY_EDIT_FROM = 7


def variants(word: str) -> set[str]:
    """The spellings one slip away from `word`: a letter doubled or two neighbours swapped; for
    a long word also a letter dropped, added or replaced."""
    found = {word[:i] + word[i] + word[i:] for i in range(len(word))}
    found |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
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


def respell(text: str, words: Mapping[str, str]) -> str:
    """`text` (normalized: lower case) with every word in `words` spelled as it says; the rest,
    punctuation and other scripts included, as it was."""
    if not words:
        return text
    return _WORD.sub(lambda m: words.get(m[0], m[0]), text)
