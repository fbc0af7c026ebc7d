"""Promised dates read from a debtor's words, relative to the day they wrote (a Monday here)."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.replies.dates import promise_date
from gateway.replies.dates_zh import zh_number
from gateway.replies.text import normalize

MONDAY = date(2026, 3, 9)
SATURDAY = date(2026, 3, 14)
DECEMBER = date(2026, 12, 20)


def read(text: str, today: date = MONDAY, locale: str = "en") -> date | None:
    return promise_date(normalize(text), today, locale)


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("today", MONDAY, date(2026, 3, 9)),
        ("tonight", MONDAY, date(2026, 3, 9)),
        ("tomorrow", MONDAY, date(2026, 3, 10)),
        ("tmrw", MONDAY, date(2026, 3, 10)),
        ("the day after tomorrow", MONDAY, date(2026, 3, 11)),
        ("Friday", MONDAY, date(2026, 3, 13)),
        ("on fri", MONDAY, date(2026, 3, 13)),
        ("Monday", MONDAY, date(2026, 3, 16)),  # a bare weekday is never today
        ("this Friday", MONDAY, date(2026, 3, 13)),
        ("this Friday", SATURDAY, date(2026, 3, 20)),  # passed: the next one
        ("next Friday", MONDAY, date(2026, 3, 20)),
        ("next Friday", SATURDAY, date(2026, 3, 20)),
        ("Friday next week", MONDAY, date(2026, 3, 20)),
        ("next week", MONDAY, date(2026, 3, 20)),
        ("this week", MONDAY, date(2026, 3, 13)),
        ("this week", SATURDAY, SATURDAY),
        ("this weekend", MONDAY, date(2026, 3, 14)),
        ("on the 15th", MONDAY, date(2026, 3, 15)),
        ("by the 3rd", MONDAY, date(2026, 4, 3)),  # passed this month: next month's
        ("the 31st", date(2026, 4, 2), date(2026, 4, 30)),  # a short month's last day
        ("March 20th", MONDAY, date(2026, 3, 20)),
        ("20 March", MONDAY, date(2026, 3, 20)),
        ("Jan 5", DECEMBER, date(2027, 1, 5)),  # next year's
        ("3/20", MONDAY, date(2026, 3, 20)),
        ("3/20/2026", MONDAY, date(2026, 3, 20)),
        ("20/3", MONDAY, date(2026, 3, 20)),  # only a day/month reading makes a date
        ("2026-03-25", MONDAY, date(2026, 3, 25)),
        ("end of the month", MONDAY, date(2026, 3, 31)),
        ("next month", MONDAY, date(2026, 4, 30)),
        ("beginning of next month", MONDAY, date(2026, 4, 1)),
        ("in 3 days", MONDAY, date(2026, 3, 12)),
        ("in a couple of days", MONDAY, date(2026, 3, 11)),
        ("within two weeks", MONDAY, date(2026, 3, 23)),
        ("end of the month", DECEMBER, date(2026, 12, 31)),
        ("next month", DECEMBER, date(2027, 1, 31)),
        ("in a fortnight", MONDAY, date(2026, 3, 23)),
        ("Friday week", MONDAY, date(2026, 3, 20)),
        ("a week on Friday", MONDAY, date(2026, 3, 20)),
        ("next week Monday", MONDAY, date(2026, 3, 16)),
        ("next weekend", MONDAY, date(2026, 3, 21)),
        ("the 12th of next month", MONDAY, date(2026, 4, 12)),
        # Chinese
        ("今天", MONDAY, date(2026, 3, 9)),
        ("明天", MONDAY, date(2026, 3, 10)),
        ("后天", MONDAY, date(2026, 3, 11)),
        ("大后天", MONDAY, date(2026, 3, 12)),
        ("周五", MONDAY, date(2026, 3, 13)),
        ("星期天", MONDAY, date(2026, 3, 15)),
        ("这周五", MONDAY, date(2026, 3, 13)),
        ("下周五", MONDAY, date(2026, 3, 20)),
        ("下星期一", MONDAY, date(2026, 3, 16)),
        ("下礼拜三", SATURDAY, date(2026, 3, 18)),
        ("下周", MONDAY, date(2026, 3, 20)),
        ("15号", MONDAY, date(2026, 3, 15)),
        ("十五号", MONDAY, date(2026, 3, 15)),
        ("5日", MONDAY, date(2026, 4, 5)),
        ("3月20日", MONDAY, date(2026, 3, 20)),
        ("四月二号", MONDAY, date(2026, 4, 2)),
        ("月底", MONDAY, date(2026, 3, 31)),
        ("下个月", MONDAY, date(2026, 4, 30)),
        ("下个月初", MONDAY, date(2026, 4, 1)),
        ("下个月5号", MONDAY, date(2026, 4, 5)),
        ("3天后", MONDAY, date(2026, 3, 12)),
        ("过几天", MONDAY, date(2026, 3, 12)),
        ("两周内", MONDAY, date(2026, 3, 23)),
        ("月中", MONDAY, date(2026, 3, 15)),
        ("下个月中", MONDAY, date(2026, 4, 15)),
    ],
)
def test_dates(text: str, today: date, expected: date) -> None:
    assert read(text, today) == expected


@pytest.mark.parametrize(
    "text",
    ["I will pay", "pay 50 dollars", "by 5pm", "someday", "昨天"],
)
def test_no_date(text: str) -> None:
    assert read(text) is None


def test_a_date_just_past_is_not_a_promise() -> None:
    assert read("March 1st") is None  # eight days ago: a payment made, not one promised


def test_several_dates_the_latest_wins() -> None:
    assert read("I can't today, but tomorrow or Friday") == date(2026, 3, 13)
    assert read("the day after tomorrow") == date(2026, 3, 11)  # not also "tomorrow"


def test_numeric_dates_follow_the_locale() -> None:
    assert read("4/5", locale="en") == date(2026, 4, 5)
    assert read("4/5", locale="en-US") == date(2026, 4, 5)
    assert read("4/5", locale="en-GB") == date(2026, 5, 4)
    assert read("4/5", locale="zh-CN") == date(2026, 4, 5)
    # Dotted dates are read only where the day comes first, and never from an amount.
    assert read("on 27.03", locale="en-GB") == date(2026, 3, 27)
    assert read("by 1.4", locale="en-IN") == date(2026, 4, 1)
    assert read("27.03", locale="en-US") is None
    assert read("2.5k on Friday", locale="en-GB") == date(2026, 3, 13)
    assert read("£12.50", locale="en-GB") is None


def test_amounts_and_phone_numbers_are_not_dates() -> None:
    assert read("I can send 415/555 tomorrow") == date(2026, 3, 10)
    assert read("$50.00") is None


@pytest.mark.parametrize(
    ("raw", "value"),
    [("5", 5), ("15", 15), ("五", 5), ("十", 10), ("十五", 15), ("二十", 20), ("三十一", 31)],
)
def test_chinese_numbers(raw: str, value: int) -> None:
    assert zh_number(raw) == value


def test_not_chinese_numbers() -> None:
    assert zh_number("几") is None and zh_number("十几") is None
