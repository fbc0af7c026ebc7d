"""The date a debtor promises to pay by, read from their own words ("Friday", "on the 15th",
"next week", "3/15", 明天, 下周五, 15号…), relative to the day they wrote (their local date).

Rules run from the most specific to the least, each blanking what it read, so "the day after
tomorrow" is not also read as "tomorrow" and "March 15th" not also as "the 15th". When a reply
names several dates the latest wins: the promise is only due once all of it is due.

Conventions (a week starts on Monday, as 周 does):
- a bare weekday ("Friday", 周五) is the next one after today, never today;
- "this Friday" (这周五) is this week's, or the next one once it has passed;
- "next Friday" (下周五) is the Friday of next week;
- "Friday week", "a week on Friday" are the Friday after the coming one; "next week Monday"
  is next week's Monday;
- "next week" (下周) is the Friday of next week, "end of the month" (月底) its last day,
  "next month" (下个月) the last day of next month: a vague promise is read at its latest;
- "3/15" is month/day, except for English locales other than US English (day/month), and is
  read the other way round when only that makes a date; "27.03" is read only day first, in
  those locales; "in a fortnight" is 14 days; 月中 the 15th;
- a named day already past by up to 60 days is a past date, not a promise; further back, it
  is next year's.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import date, timedelta

from gateway.replies.dates_zh import chinese
from gateway.replies.days import (
    SATURDAY,
    Rule,
    day_of_month,
    fixed,
    friday_of,
    month_day,
    month_end,
    next_month,
    run,
    this_or_upcoming,
    this_week,
    upcoming,
)
from gateway.replies.text import clauses, words

_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3,
    "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
_MONTHS = {
    name: number
    for number in range(1, 13)
    for name in (calendar.month_name[number].lower(), calendar.month_abbr[number].lower())
} | {"sept": 9}
_SMALL = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a couple": 2, "couple of": 2,
    "a few": 3, "few": 3,
}  # fmt: skip
# The days of the year people name instead of a date (read as that day, this year or next).
_FEASTS = {
    "christmas eve": (12, 24), "christmas day": (12, 25), "christmas": (12, 25),
    "xmas eve": (12, 24), "xmas day": (12, 25), "xmas": (12, 25), "boxing day": (12, 26),
    "new years eve": (12, 31), "new year eve": (12, 31), "hogmanay": (12, 31),
    "new years day": (1, 1), "new year day": (1, 1), "valentines day": (2, 14),
    "halloween": (10, 31), "st patricks day": (3, 17),
}  # fmt: skip
_FEAST = "|".join(
    sorted({k.replace("new years", "new year'?s").replace("valentines", "valentine'?s")
            .replace("patricks", "patrick'?s") for k in _FEASTS}, key=len, reverse=True)
)  # fmt: skip
_DAY = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_FULL_DAY = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_COUNT = r"\d{1,3}|" + "|".join(sorted(_SMALL, key=len, reverse=True))


def promise_date(normalized: str, today: date, locale: str = "en") -> date | None:
    """The latest date on or after `today` that the reply names, or None.

    `normalized` is the output of `gateway.replies.text.normalize`."""
    found = [d for d in _english(normalized, today, locale) if d >= today]
    found += [d for d in chinese(clauses(normalized), today) if d >= today]
    return max(found) if found else None


# --- English ------------------------------------------------------------------------------------


def _numeric(m: re.Match[str], today: date, locale: str) -> date | None:
    first, second = int(m["a"]), int(m["b"])
    year = int(m["y"]) if m["y"] else None
    if year is not None and year < 100:
        year += 2000
    day_first = locale.startswith("en-") and locale != "en-US"
    month, day = (second, first) if day_first else (first, second)
    if month > 12 >= day:
        month, day = day, month
    return month_day(today, month, day, year)


def _iso(m: re.Match[str], today: date, locale: str) -> date | None:
    return month_day(today, int(m["m"]), int(m["d"]), int(m["y"]))


def _weekday(m: re.Match[str], today: date, locale: str) -> date:
    weekday = _WEEKDAYS[m["day"]]
    match m["when"]:
        case "next":
            return this_week(today, weekday) + timedelta(days=7)
        case "this":
            return this_or_upcoming(today, weekday)
    return upcoming(today, weekday)


def _count(m: re.Match[str], today: date, locale: str) -> date:
    raw = m["n"]
    n = int(raw) if raw.isdigit() else _SMALL[raw]
    unit = m["unit"]
    return today + timedelta(days=n * (14 if unit[0] == "f" else 7 if unit[0] == "w" else 1))


def _dotted(m: re.Match[str], today: date, locale: str) -> date | None:
    """27.03, on 1.4: day and month, where a locale writes the day first (en-GB, en-IN…)."""
    if not (locale.startswith("en-") and locale != "en-US"):
        return None
    return _numeric(m, today, locale)


def _week_after(m: re.Match[str], today: date, locale: str) -> date:
    """The weekday a week after the coming one: "Friday week", "a week on Friday"."""
    return upcoming(today, _WEEKDAYS[m["day"] or m["day2"]]) + timedelta(days=7)


_ENGLISH_RAW: list[Rule] = [
    (re.compile(r"(?<![\d/])(?P<y>20\d\d)-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)"), _iso),
    (re.compile(r"(?<![\d/.])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])"), _numeric),
    # Dotted, read only day first: 27.03, 1.4.2027, "on 1.4" (not 2.5k, nor an amount 12.50).
    (re.compile(r"(?<![\d.,£$€])(?P<a>\d{1,2})\.(?P<b>\d{2})(?:\.(?P<y>\d{4}|\d{2}))?(?![\d.,]|\s?[a-z%])"), _dotted),
    (re.compile(r"(?:\b(?:on|by|before|until|till|latest)\s)(?P<a>\d{1,2})\.(?P<b>\d{1,2})(?:\.(?P<y>\d{4}|\d{2}))?(?![\d.,]|\s?[a-z%])"), _dotted),
]  # fmt: skip
_ENGLISH_WORDS: list[Rule] = [
    (
        re.compile(rf"\b(?P<mon>{_MONTH}) (?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b"),
        lambda m, t, _l: month_day(t, _MONTHS[m["mon"]], int(m["d"])),
    ),
    (
        re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?(?P<mon>{_MONTH})\b"),
        lambda m, t, _l: month_day(t, _MONTHS[m["mon"]], int(m["d"])),
    ),
    # Days of the year named, not numbered: "on Christmas Eve", "by New Year's Day".
    (
        re.compile(rf"\b(?P<feast>{_FEAST})\b"),
        lambda m, t, _l: month_day(t, *_FEASTS[m["feast"].replace("'s", "s")]),
    ),
    (re.compile(r"\b(?:the )?day after tomorrow\b"), fixed(2)),
    (re.compile(r"\b(?:tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr|tmw|ming ?tian)\b"), fixed(1)),
    (re.compile(r"\bhou ?tian\b"), fixed(2)),  # pinyin: 明天, 后天
    (
        re.compile(
            r"\b(?:today|tonight|this (?:morning|afternoon|evening)|later on|later today"
            r"|when i get (?:home|back)(?: later| tonight)?)\b"
        ),
        fixed(0),
    ),
    (re.compile(rf"\b(?P<day>{_FULL_DAY}) (?P<when>next) week\b"), _weekday),
    (re.compile(rf"\b(?P<when>next) week (?:on )?(?P<day>{_FULL_DAY})\b"), _weekday),
    (
        re.compile(
            rf"\ba week (?:on|from|after) (?P<day>{_FULL_DAY})\b"
            rf"|\b(?P<day2>{_FULL_DAY}) week\b(?! (?:after|before|of|and)\b)"
        ),
        _week_after,
    ),
    (re.compile(rf"\b(?:(?P<when>next|this)(?: coming)? )?(?P<day>{_FULL_DAY})\b"), _weekday),
    (
        re.compile(rf"\b(?:on|by|before|until|till|til|(?P<when>next|this)) (?P<day>{_DAY})\b"),
        _weekday,
    ),
    # An abbreviation that is no other word ("thurs", "fri"; not "sat", "sun", "wed") on its own.
    (re.compile(r"\b(?P<day>thurs|thur|thu|tues|tue|fri)(?P<when>)\b"), _weekday),
    (re.compile(r"\b(?:end of|by the end of|later) next week\b|\bnext week\b"), friday_of(1)),
    (re.compile(r"\b(?:this week|end of (?:the |this )?week|week'?s end)\b"), friday_of(0)),
    (
        re.compile(r"\bnext weekend\b"),
        lambda m, t, _l: this_week(t, SATURDAY) + timedelta(days=7),
    ),
    (
        re.compile(r"\b(?:this )?weekend\b"),
        lambda m, t, _l: max(t, this_week(t, SATURDAY)),
    ),
    (
        re.compile(r"\b(?:(?:beginning|start|first) of (?:the |next )?month|1st of next month)\b"),
        lambda m, t, _l: date(*next_month(t), 1),
    ),
    (
        re.compile(r"\b(?:end of (?:the |this )?month|month end|month's end)\b"),
        lambda m, t, _l: month_end(t.year, t.month),
    ),
    (
        # "the 5th of next month", "next month 5 tarikh" (the date, in Hindi and Urdu)
        re.compile(
            r"\b(?:the )?(?P<d>\d{1,2})(?:st|nd|rd|th)? of next month\b"
            r"|\bnext month (?:on )?(?:the )?(?P<d2>\d{1,2})(?:st|nd|rd|th)?\b(?! (?:days?|weeks?|months?|[a-z]*pounds?|dollars?|quid|bucks|k|%)\b)"
        ),
        lambda m, t, _l: month_day(t, next_month(t)[1], int(m["d"] or m["d2"]), next_month(t)[0]),
    ),
    (re.compile(r"\bnext month\b"), lambda m, t, _l: month_end(*next_month(t))),
    (
        re.compile(
            rf"\b(?:in|within)(?: the next)? (?P<n>{_COUNT}) (?P<unit>days?|weeks?|fortnights?)\b"
        ),
        _count,
    ),
    (
        re.compile(
            r"\b(?:on|by|before|until|the) (?:the )?(?P<d>\d{1,2})(?:st|nd|rd|th)?\b"
            r"(?! ?(?:days?|weeks?|months?|years?|dollars?|bucks|usd|pounds?|gbp|am|pm|%|:))"
        ),
        lambda m, t, _l: day_of_month(t, int(m["d"])),
    ),  # fmt: skip
    (
        re.compile(r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)\b"),
        lambda m, t, _l: day_of_month(t, int(m["d"])),
    ),
]


def _english(normalized: str, today: date, locale: str) -> Iterator[date]:
    found, rest = run(_ENGLISH_RAW, normalized, today, locale)
    yield from found
    yield from run(_ENGLISH_WORDS, words(rest), today, locale)[0]
