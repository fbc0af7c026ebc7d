"""Calendar arithmetic for promised dates, and the way date rules are run over a reply.

A week starts on Monday (as 周 does). A rule is a compiled pattern and a function from its match,
today and the locale to a date (or None when the match names no real date).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

FRIDAY, SATURDAY = 4, 5
# A named day already past by up to this many days is a payment made, not a promise.
PAST_GRACE_DAYS = 60

Read = Callable[[re.Match[str], date, str], date | None]
Rule = tuple[re.Pattern[str], Read]


def this_week(today: date, weekday: int) -> date:
    """That weekday in today's week (Monday to Sunday), past or not."""
    return today + timedelta(days=weekday - today.weekday())


def upcoming(today: date, weekday: int) -> date:
    """The next such weekday after today (a week ahead when it is today)."""
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


def this_or_upcoming(today: date, weekday: int) -> date:
    """That weekday in today's week, or the next one once it has passed."""
    day = this_week(today, weekday)
    return day if day >= today else upcoming(today, weekday)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def next_month(today: date) -> tuple[int, int]:
    return (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)


def day_of_month(today: date, day: int) -> date | None:
    """The next date (from today on) whose day of the month is `day` (the last day of a shorter
    month stands in for the 31st)."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(2):
        candidate = date(year, month, min(day, calendar.monthrange(year, month)[1]))
        if candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def month_day(today: date, month: int, day: int, year: int | None = None) -> date | None:
    """A named day of a month: this year's, or next year's when this year's is long past."""
    try:
        candidate = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and candidate < today:
        if (today - candidate).days <= PAST_GRACE_DAYS:
            return None  # a date just past is a past payment, not a promise
        try:
            candidate = date(today.year + 1, month, day)
        except ValueError:
            return None
    return candidate


def fixed(days: int) -> Callable[[re.Match[str], date, str], date]:
    """A rule's reading: `days` after today."""
    return lambda m, today, locale: today + timedelta(days=days)


def friday_of(weeks: int) -> Callable[[re.Match[str], date, str], date]:
    """A rule's reading: the Friday `weeks` weeks on (today, if this week's has passed)."""

    def rule(m: re.Match[str], today: date, locale: str) -> date:
        return max(today, this_week(today, FRIDAY) + timedelta(days=7 * weeks))

    return rule


def run(rules: list[Rule], text: str, today: date, locale: str) -> tuple[list[date], str]:
    """Every date the rules read, in order, each rule blanking what it matched; and what is
    left of the text."""
    found: list[date] = []
    for pattern, read in rules:
        for m in pattern.finditer(text):
            day = read(m, today, locale)
            if day is not None:
                found.append(day)
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return found, text
