"""The content gate (compliance.md §6.1 step 7, §6.2 `content.*`): required blocks present,
forbidden phrases absent, the account number masked. Pure: rendered text and facts in, problems
out; no I/O, no clock.

`problems()` lists everything wrong (template lint); `check()` turns the first of them into the
SUPPRESS decision the dispatcher writes on the case timeline.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from scheduler.blocks import Detector, alternatives, folded, normalize, present
from scheduler.decisions import Decision, Verdict
from scheduler.preset_content import Condition, Forbidden
from scheduler.presets import Preset

# What the debtor reads as one message, per channel: (name, the template part, the parts read
# with it). An email is read either as text or as HTML, so each carries the blocks on its own.
READINGS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "sms": (("SMS", "body", ("body",)),),
    "email": (
        ("email text", "text", ("subject", "text")),
        ("email HTML", "html", ("subject", "html")),
    ),
    "letter": (("letter", "html", ("html",)),),
}
HTML_PARTS = frozenset({"html"})

_CONDITIONS: dict[str, str] = {
    "always": "in any message",
    "sol_expired": "when the debt is time-barred (sol_expired)",
    "first_party": "from a first-party creditor",
    "third_party": "from a third-party collector",
    "unverified_owner": "until the contact point is verified as the debtor's",
}


@dataclass(frozen=True, slots=True)
class ContentFacts:
    """What the content rules depend on besides the text."""

    locale: str
    collector_role: str = "first_party"
    sol_expired: bool = False
    # Nothing verifies a contact point's owner yet, so UK neutral wording always applies.
    owner_verified: bool = False
    collector_name: str = ""
    collector_phone: str = ""
    # As much of the account number as is known: the full number in lint, the stored tail at
    # send time. Masking is verified against it.
    account: str = ""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a rendered message, and the block or phrase it is about."""

    rule: str  # content.required | content.forbidden | content.masking
    message: str
    block: str | None = None
    phrase: str | None = None
    part: str | None = None  # the template part: body (SMS), subject / text / html


def holds(condition: Condition, facts: ContentFacts) -> bool:
    """Whether a rule's `when` applies to these facts."""
    if condition == "always":
        return True
    if condition == "sol_expired":
        return facts.sol_expired
    if condition == "unverified_owner":
        return not facts.owner_verified
    return facts.collector_role == condition  # first_party / third_party


_HREF = re.compile(r"<a\b[^>]*?\bhref\s*=\s*[\"']([^\"']*)[\"'][^>]*>(.*?)</a\s*>", re.I | re.S)
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def html_text(source: str) -> str:
    """What a reader sees of an HTML part, with each link's address kept beside its text."""
    text = _HREF.sub(lambda m: f" {m.group(2)} ({m.group(1)}) ", source)
    text = _TAG.sub(" ", _HIDDEN.sub(" ", text))
    return _SPACE.sub(" ", html_lib.unescape(text)).strip()


def _texts(rendered: Mapping[str, object]) -> dict[str, str]:
    out = {}
    for name, value in rendered.items():
        if isinstance(value, str) and name in {"body", "subject", "text", "html"}:
            out[name] = html_text(value) if name in HTML_PARTS else value
    return out


def problems(
    rendered: Mapping[str, object],
    channel: str,
    purpose: str,
    preset: Preset,
    facts: ContentFacts,
) -> list[Problem]:
    """Every content problem of one rendered message: forbidden phrases, masking, missing blocks.

    `rendered` holds the parts as rendered: `body` (SMS), `subject`/`text`/`html` (email),
    `html` (letter); other keys are ignored.
    """
    texts = _texts(rendered)
    found = _forbidden(texts, channel, preset, facts)
    found += _masking(texts, preset, facts)
    if purpose not in preset.content.exempt_purposes.value:
        found += _required(texts, channel, preset, facts)
    return found


def check(
    rendered: Mapping[str, object],
    channel: str,
    purpose: str,
    preset: Preset,
    facts: ContentFacts,
) -> Decision | None:
    """None when the message may go; else SUPPRESS with the first problem's rule and reason.

    A forbidden phrase or an unmasked account comes before a missing block: what a message says
    wrongly weighs more than what it fails to say.
    """
    found = problems(rendered, channel, purpose, preset, facts)
    if not found:
        return None
    first = found[0]
    return Decision(
        Verdict.SUPPRESS,
        rule=first.rule,
        reason=first.message,
        preset=preset.name,
        preset_version=preset.version,
    )


def _required(
    texts: dict[str, str], channel: str, preset: Preset, facts: ContentFacts
) -> list[Problem]:
    required = preset.content.required.get(channel)  # type: ignore[call-overload]
    if required is None:
        return []
    extra = _preset_detectors(preset)
    readings = [
        (reading, part, text, folded(text))
        for reading, part, parts in READINGS.get(channel, ())
        if part in texts
        for text in ["\n".join(texts[p] for p in parts if p in texts)]
    ]
    out = []
    for block in required.value:
        condition = required.when.get(block, "always")
        if not holds(condition, facts):
            continue
        alts = alternatives(block, facts.locale, extra)
        why = "" if condition == "always" else f" {_CONDITIONS[condition]}"
        if not alts:
            out.append(
                Problem(
                    "content.required",
                    f"{preset.name} requires the {block} block{why}, and nothing recognises it in "
                    f"locale {facts.locale} (add a detector under content.detectors)",
                    block=block,
                )
            )
            continue
        for reading, part, text, lowered in readings:
            if not present(text, alts, facts.collector_name, facts.collector_phone, lowered):
                out.append(
                    Problem(
                        "content.required",
                        f"the {reading} lacks the {block} block ({preset.name} requires it{why})",
                        block=block,
                        part=part,
                    )
                )
    return out


_DETECTORS: dict[int, tuple[Preset, dict[str, Detector]]] = {}


def _preset_detectors(preset: Preset) -> dict[str, Detector]:
    # Presets live for the whole process: their detectors are normalized once. The entry holds the
    # preset, so its id is not reused by another one meanwhile.
    cached = _DETECTORS.get(id(preset))
    if cached is None or cached[0] is not preset:
        found = {b: normalize(d.patterns, b) for b, d in preset.content.detectors.items()}
        cached = _DETECTORS[id(preset)] = (preset, found)
    return cached[1]


def _locale_applies(rule_locale: str, locale: str) -> bool:
    return rule_locale in (locale, "any") or locale.startswith(f"{rule_locale}-")


def _forbidden(
    texts: dict[str, str], channel: str, preset: Preset, facts: ContentFacts
) -> list[Problem]:
    out = []
    seen: set[str] = set()
    for rule in preset.content.forbidden:
        if rule.channels and channel not in rule.channels:
            continue
        if not _locale_applies(rule.locale, facts.locale) or not holds(rule.when, facts):
            continue
        for part, text in texts.items():
            for phrase, found in _phrases_in(rule, text):
                if phrase in seen:
                    continue
                seen.add(phrase)
                out.append(
                    Problem(
                        "content.forbidden",
                        f"{found!r} in the {part}: {preset.name} forbids {phrase!r} "
                        f"{_CONDITIONS[rule.when]}",
                        phrase=phrase,
                        part=part,
                    )
                )
    return out


_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
# A Latin-script word character: a phrase matches only where none touches it on either side.
_WORD = r"0-9A-Za-z_\u00c0-\u024f"


def phrase_pattern(phrase: str) -> str:
    """The regular expression for one forbidden phrase: CJK anywhere, Latin as whole words
    (spacing free, a trailing * matching any ending)."""
    if _CJK.search(phrase):
        return re.escape(phrase)
    prefix = phrase.endswith("*")
    words = phrase.rstrip("*").split()
    body = r"\s+".join(re.escape(w) for w in words)
    tail = f"[{_WORD}]*" if prefix else ""
    return f"(?<![{_WORD}])(?:{body}){tail}(?![{_WORD}])"


@lru_cache(maxsize=256)
def _compiled(phrases: tuple[str, ...]) -> list[tuple[str, str, re.Pattern[str]]]:
    # (phrase, a word it cannot match without, its pattern): a plain substring test on that word
    # skips the regular expression for nearly every message, which contains none of them.
    return [
        (p, p.rstrip("*").split()[0].casefold(), re.compile(phrase_pattern(p), re.IGNORECASE))
        for p in phrases
    ]


def _phrases_in(rule: Forbidden, text: str) -> list[tuple[str, str]]:
    """(phrase, the words that matched it) for each of the rule's phrases found in `text`."""
    folded = text.casefold()
    found = []
    for phrase, needle, rx in _compiled(tuple(rule.phrases)):
        match = rx.search(text) if needle in folded else None
        if match:
            found.append((phrase, " ".join(match.group().split())))
    return found


_DIGIT_RUN = re.compile(r"\d(?:[ \-]?\d)*")


def _masking(texts: dict[str, str], preset: Preset, facts: ContentFacts) -> list[Problem]:
    visible = preset.content.masking.account_digits_visible
    digits = "".join(ch for ch in facts.account if ch.isdigit())
    # Runs of one or two digits are in every text (days, amounts): they cannot be told apart.
    size = max(visible + 1, 3)
    if len(digits) < size:
        return []
    # Any run of more than `visible` of the account's consecutive digits gives too much away,
    # whether written together or spaced like "4111 1111".
    windows = {digits[i : i + size] for i in range(len(digits) - size + 1)}
    out = []
    for part, text in texts.items():
        for match in _DIGIT_RUN.finditer(text):
            run = re.sub(r"\D", "", match.group())
            if any(run[i : i + size] in windows for i in range(len(run) - size + 1)):
                out.append(
                    Problem(
                        "content.masking",
                        f"the {part} shows more than the last {visible} digits of the account "
                        f"number ({preset.name} masks the rest)",
                        part=part,
                    )
                )
                break
    return out
