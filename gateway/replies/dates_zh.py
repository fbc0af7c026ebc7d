"""Promised dates in Chinese: 明天, 后天, 下周五, 这周三, 月底, 下个月5号, 15号, 3月20日, 三天后…
(see `gateway.replies.dates` for the conventions). Read from the reply with the spaces between
characters removed."""

from __future__ import annotations

import re
from datetime import date, timedelta

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

_ZH_DIGITS = dict(zip("一二三四五六七八九", range(1, 10), strict=True)) | {"两": 2}
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_ZH_NUM = r"[0-9]{1,2}|[一二两三四五六七八九十]{1,3}"
_ZH_WD = r"[一二三四五六日天]"
_WEEK = r"(?:周|星期|礼拜)"


def zh_number(raw: str) -> int | None:
    """1–99 in digits or Chinese numerals (十五, 二十, 二十五, 两); None if not a number."""
    if raw.isdigit():
        return int(raw)
    if raw == "十":
        return 10
    tens, _, units = raw.partition("十")
    if "十" in raw:
        high = _ZH_DIGITS.get(tens, 0) if tens else 1
        low = _ZH_DIGITS.get(units, 0) if units else 0
        if (tens and tens not in _ZH_DIGITS) or (units and units not in _ZH_DIGITS):
            return None
        return high * 10 + low
    return _ZH_DIGITS.get(raw)


def _zh(n: str) -> int:
    return zh_number(n) or 0


_CHINESE: list[Rule] = [
    (
        re.compile(rf"(?P<m>{_ZH_NUM})月(?P<d>{_ZH_NUM})[日号]"),
        lambda m, t, _l: month_day(t, _zh(m["m"]), _zh(m["d"])),
    ),
    (
        re.compile(rf"下个?月(?P<d>{_ZH_NUM})[日号]"),
        lambda m, t, _l: month_day(t, next_month(t)[1], _zh(m["d"]), next_month(t)[0]),
    ),
    # Days of the year named: 元旦 (New Year's Day), 平安夜, 圣诞(节).
    (re.compile(r"元旦"), lambda m, t, _l: month_day(t, 1, 1)),
    (re.compile(r"平安夜"), lambda m, t, _l: month_day(t, 12, 24)),
    (re.compile(r"圣诞"), lambda m, t, _l: month_day(t, 12, 25)),
    (re.compile(r"下个?月初"), lambda m, t, _l: date(*next_month(t), 1)),
    # The middle of a month (月中): its 15th, next month's once this one's is past.
    (
        re.compile(r"下个?月中"),
        lambda m, t, _l: month_day(t, next_month(t)[1], 15, next_month(t)[0]),
    ),
    (re.compile(r"下个?月(?:底|末|尾)?"), lambda m, t, _l: month_end(*next_month(t))),
    # 月尾: Cantonese for 月底.
    (
        re.compile(r"(?:这个?月|本月)?(?:月底|月末|月尾)"),
        lambda m, t, _l: month_end(t.year, t.month),
    ),
    (re.compile(r"(?:这个?月|本月)?月中(?![心间国])"), lambda m, t, _l: day_of_month(t, 15)),
    (re.compile(r"月初"), lambda m, t, _l: date(*next_month(t), 1)),
    (
        re.compile(rf"下下个?{_WEEK}(?P<wd>{_ZH_WD})"),
        lambda m, t, _l: this_week(t, _ZH_WEEKDAY[m["wd"]]) + timedelta(days=14),
    ),
    (
        re.compile(rf"下个?{_WEEK}(?P<wd>{_ZH_WD})"),
        lambda m, t, _l: this_week(t, _ZH_WEEKDAY[m["wd"]]) + timedelta(days=7),
    ),
    (
        re.compile(rf"(?:这个?|本){_WEEK}(?P<wd>{_ZH_WD})"),
        lambda m, t, _l: this_or_upcoming(t, _ZH_WEEKDAY[m["wd"]]),
    ),
    (
        re.compile(rf"{_WEEK}(?P<wd>{_ZH_WD})"),
        lambda m, t, _l: upcoming(t, _ZH_WEEKDAY[m["wd"]]),
    ),
    (
        re.compile(r"下个?周末"),
        lambda m, t, _l: this_week(t, SATURDAY) + timedelta(days=7),
    ),
    (re.compile(rf"下个?{_WEEK}"), friday_of(1)),
    (re.compile(r"(?:这个?|本)?周末"), lambda m, t, _l: max(t, this_week(t, SATURDAY))),
    # 听日, 听晚, 后日: tomorrow, tomorrow night, the day after in Cantonese.
    (re.compile(r"大后[天日]"), fixed(3)),
    (re.compile(r"后[天日]"), fixed(2)),
    (re.compile(r"明[天日早晚]|听[日晚]"), fixed(1)),
    (re.compile(r"今[天日晚]"), fixed(0)),
    (
        re.compile(
            rf"(?:(?P<n>{_ZH_NUM}|几)天(?:后|之后|以后|内|之内|以内)|过(?P<n2>{_ZH_NUM}|几)天)"
        ),
        lambda m, t, _l: t + timedelta(days=_zh_count(m["n"] or m["n2"])),
    ),
    (
        re.compile(rf"(?P<n>{_ZH_NUM})(?:周|个星期|个礼拜)(?:后|之后|以后|内|之内|以内)"),
        lambda m, t, _l: t + timedelta(days=7 * _zh_count(m["n"])),
    ),
    (re.compile(r"(?:这|过)几天"), fixed(3)),
    (
        re.compile(rf"(?P<d>{_ZH_NUM})[号日]"),
        lambda m, t, _l: day_of_month(t, _zh(m["d"])),
    ),
]


def _zh_count(raw: str) -> int:
    return 3 if raw == "几" else _zh(raw)


def chinese(text: str, today: date) -> list[date]:
    """Every date the text names."""
    return run(_CHINESE, text, today, "zh-CN")[0]
