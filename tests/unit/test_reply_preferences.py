"""Stated contact preferences read into case restrictions (§6.6 #14, #15)."""

from __future__ import annotations

import pytest

from gateway.replies.preferences import stated_restrictions


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("Please do not text me before noon", ("12:00", "24:00")),
        ("not before 9am please", ("09:00", "24:00")),
        ("only after 6", ("18:00", "24:00")),
        ("Only contact me after 5:30 PM", ("17:30", "24:00")),
        ("not after 8pm", ("08:00", "20:00")),
        ("call me before 11", ("08:00", "11:00")),
        ("between 10am and 4pm is best", ("10:00", "16:00")),
        ("Between 10 and 2", ("10:00", "14:00")),
        ("only in the evening", ("17:00", "21:00")),
        ("下午6点以后再联系", ("18:00", "24:00")),
        ("晚上八点以后发", ("20:00", "24:00")),
        ("10点前不要打", ("08:00", "10:00")),
        ("上午10点后下午5点前", ("10:00", "17:00")),
        ("上午再联系", ("08:00", "12:00")),
    ],
)
def test_hours(text: str, hours: tuple[str, str]) -> None:
    got = stated_restrictions(text, time=True, channel=False)
    assert got["hours"] == {"start": hours[0], "end": hours[1]}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("weekends only please", ["sat", "sun"]),
        ("only on weekdays", ["mon", "tue", "wed", "thu", "fri"]),
        ("周末再联系", ["sat", "sun"]),
    ],
)
def test_days(text: str, days: list[str]) -> None:
    assert stated_restrictions(text, time=True, channel=False)["days"] == days


@pytest.mark.parametrize(
    ("text", "channels"),
    [
        ("email me instead", ["email"]),
        ("Please only send letters", ["letter"]),
        ("put everything in writing, by mail", ["letter"]),
        ("Don't text me, email me", ["email"]),
        ("text me instead of calling", ["sms"]),
        ("用邮件联系", ["email"]),
        ("只接受信件", ["letter"]),
    ],
)
def test_channels(text: str, channels: list[str]) -> None:
    assert stated_restrictions(text, time=False, channel=True)["channels"] == channels


@pytest.mark.parametrize(
    "text", ["I work nights", "call me instead", "between 5pm and 9am", "too early for me"]
)
def test_what_cannot_be_read_is_left_to_a_person(text: str) -> None:
    assert stated_restrictions(text, time=True, channel=True) == {}


def test_only_what_the_classifier_found_is_read() -> None:
    assert stated_restrictions("email me after 6", time=False, channel=True) == {
        "channels": ["email"]
    }
