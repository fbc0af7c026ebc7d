"""Reading a stated contact preference (§6.6 #14, #15) into the case's restrictions.

"Not before noon", "only after 6pm", "between 10am and 4pm", "weekends only", "email me instead",
"only letters", 下午6点以后, 用邮件联系… become `{"hours": {"start", "end"}, "days": [...],
"channels": [...]}` (any of them), which the policy applies as the debtor's own restrictions.
What cannot be read with confidence is left to a person. Pure: no I/O.

An hour without am/pm is read as people say it about being contacted: 1 to 7 are afternoon or
evening ("after 6"), 8 to 11 morning, 12 noon.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.replies.text import normalize

_HOUR = r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
_WORD_TIMES = {"noon": (12, 0), "midday": (12, 0), "midnight": (24, 0)}
_WORD_TIME = r"(noon|midday|midnight)"
_AT = rf"(?:{_HOUR}|{_WORD_TIME})"

# In this order: "not after 8pm" must not be read as "after 8pm".
_EN_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\bbetween {_AT} and {_AT}"), "between"),
    (re.compile(rf"\b(?:not|never|no|nothing|don't)(?: \w+){{0,3}} before {_AT}"), "start"),
    (re.compile(rf"\b(?:not|never|no|nothing|don't)(?: \w+){{0,3}} after {_AT}"), "end"),
    (re.compile(rf"\b(?:only |just )?after {_AT}"), "start"),
    (re.compile(rf"\b(?:only |just )?before {_AT}"), "end"),
]
_EN_PARTS = {
    "in the morning": ("08:00", "12:00"),
    "in the afternoon": ("12:00", "18:00"),
    "in the evening": ("17:00", "21:00"),
    "evenings only": ("17:00", "21:00"),
    "mornings only": ("08:00", "12:00"),
}
_EN_WEEKENDS = re.compile(r"\b(?:on |at )?weekends?(?: only)?\b|\bonly (?:on |at )?weekends?\b")
_EN_WEEKDAYS = re.compile(r"\b(?:on )?weekdays?(?: only)?\b|\bonly (?:on )?weekdays?\b")

_EN_CHANNELS = {
    "email": re.compile(r"\b(?:e ?-?mail|emails)\b"),
    "letter": re.compile(r"\b(?:letters?|post|in writing|write to me|by mail|snail mail)\b"),
    "sms": re.compile(r"\b(?:texts?|sms|text messages?)\b"),
}

_ZH_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_HOUR = r"(上午|早上|中午|下午|晚上)?([0-9]{1,2}|十[一二]?|[一二两三四五六七八九])点(半)?"
_ZH_START = re.compile(_ZH_HOUR + r"(?:以后|之后|后)")
_ZH_END = re.compile(_ZH_HOUR + r"(?:以前|之前|前)")
_ZH_PARTS = {"上午": ("08:00", "12:00"), "下午": ("12:00", "18:00"), "晚上": ("18:00", "21:00")}
_ZH_CHANNELS = {
    "email": re.compile(r"邮件|邮箱|电邮"),
    "letter": re.compile(r"信件|寄信|邮寄|书面"),
    "sms": re.compile(r"短信"),
}


def stated_restrictions(body: str, *, time: bool, channel: bool) -> dict[str, Any]:
    """The restrictions a reply states: `time` for a time preference, `channel` for a channel
    preference (as the classifier found them). Empty when nothing could be read."""
    text = normalize(body)
    out: dict[str, Any] = {}
    if time:
        hours = _hours_en(text) or _hours_zh(text)
        if hours is not None:
            out["hours"] = {"start": hours[0], "end": hours[1]}
        if _EN_WEEKENDS.search(text) or "周末" in text:
            out["days"] = ["sat", "sun"]
        elif _EN_WEEKDAYS.search(text) or "工作日" in text:
            out["days"] = ["mon", "tue", "wed", "thu", "fri"]
    if channel:
        found = [
            name
            for name in ("sms", "email", "letter")
            if _wanted(text, _EN_CHANNELS[name]) or _wanted(text, _ZH_CHANNELS[name])
        ]
        if found:
            out["channels"] = found
    return out


# "Don't text me, email me": a channel named right after a negation is not one they want.
_NEGATED = re.compile(r"(?:\bnot|n't|\bno|\bstop|\bnever|别|不要|不)\s*(?:\w+\s+){0,2}$")


def _wanted(text: str, pattern: re.Pattern[str]) -> bool:
    return any(not _NEGATED.search(text[: m.start()]) for m in pattern.finditer(text))


def _hours_en(text: str) -> tuple[str, str] | None:
    for part, span in _EN_PARTS.items():
        if part in text:
            return span
    for pattern, kind in _EN_RULES:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groups()
        if kind == "between":
            first, second = _clock(groups[:4]), _clock(groups[4:])
            return (first, second) if first < second else None
        at = _clock(groups)
        return ("08:00", at) if kind == "end" else (at, "24:00")
    return None


def _clock(groups: tuple[str | None, ...]) -> str:
    hour, minute, meridiem, word = groups
    if word is not None:
        h, m = _WORD_TIMES[word]
    else:
        assert hour is not None
        h, m = int(hour), int(minute or 0)
        if meridiem and meridiem.startswith("p") and h < 12:
            h += 12
        elif meridiem and meridiem.startswith("a") and h == 12:
            h = 0
        elif not meridiem and 1 <= h <= 7:
            h += 12
    return "24:00" if (h, m) >= (24, 0) else f"{min(h, 23):02d}:{m:02d}"


def _hours_zh(text: str) -> tuple[str, str] | None:
    start, end = _ZH_START.search(text), _ZH_END.search(text)
    if start is not None and end is not None:
        first, second = _zh_clock(start), _zh_clock(end)
        return (first, second) if first < second else None
    if start is not None:
        return _zh_clock(start), "24:00"
    if end is not None:
        return "08:00", _zh_clock(end)
    for part, span in _ZH_PARTS.items():
        if part in text:
            return span
    return None


def _zh_clock(match: re.Match[str]) -> str:
    part, number, half = match.groups()
    if number.isdigit():
        hour = int(number)
    elif number.startswith("十"):
        hour = 10 + (_ZH_DIGITS[number[1]] if len(number) > 1 else 0)
    else:
        hour = _ZH_DIGITS[number]
    if part in ("下午", "晚上") and hour < 12 or part is None and 1 <= hour <= 7:
        hour += 12
    return f"{min(hour, 23):02d}:{30 if half else 0:02d}"
