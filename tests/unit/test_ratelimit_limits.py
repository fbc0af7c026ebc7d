"""The RATE_LIMITS / SENDER_RATE_LIMITS format: parsed into (rate per second, burst)."""

from __future__ import annotations

import pytest

from gateway.ratelimit import Limit, parse_rate_limits
from gateway.settings import Settings, SettingsError


def test_the_documented_example() -> None:
    assert parse_rate_limits("twilio=50/s:100, smpp=100/s ,smtp=200/s,sandbox=0") == {
        "twilio": Limit(50.0, 100),
        "smpp": Limit(100.0, 100),
        "smtp": Limit(200.0, 200),
    }


def test_units_and_default_burst() -> None:
    assert parse_rate_limits("a=120/m,b=36/h,c=0.5,d=2.5/s") == {
        "a": Limit(2.0, 2),
        "b": Limit(0.01, 1),  # a slow bucket still lets one message through
        "c": Limit(0.5, 1),
        "d": Limit(2.5, 3),
    }


@pytest.mark.parametrize("raw", ["", " ", ",", "sandbox=0", "x=0/s:5"])
def test_empty_and_zero_mean_unlimited(raw: str) -> None:
    assert parse_rate_limits(raw) == {}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("twilio", "not provider=RATE"),
        ("=5/s", "not provider=RATE"),
        ("twilio=fast", "expected RATE"),
        ("twilio=5/d", "expected RATE"),
        ("twilio=-5", "expected RATE"),
        ("twilio=1.2.3", "expected RATE"),
        ("twilio=5/s:", "expected RATE"),
        ("twilio=5/s:0", "BURST must be at least 1"),
        ("twilio=5,twilio=6", "listed twice"),
    ],
)
def test_bad_entries_name_the_setting(raw: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="SENDER_RATE_LIMITS") as caught:
        parse_rate_limits(raw, "SENDER_RATE_LIMITS")
    assert fragment in str(caught.value)


@pytest.mark.parametrize("name", ["RATE_LIMITS", "SENDER_RATE_LIMITS"])
def test_settings_refuse_a_bad_value(name: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}: 'smpp=lots'"):
        Settings.from_env({name: "smpp=lots"})


def test_settings_keep_a_good_value() -> None:
    s = Settings.from_env({"RATE_LIMITS": "twilio=50/s:100", "RATE_LIMIT_MAX_WAIT_S": "2"})
    assert s.rate_limits == "twilio=50/s:100" and s.rate_limit_max_wait_s == 2.0
    with pytest.raises(SettingsError, match="RATE_LIMIT_MAX_WAIT_S"):
        Settings.from_env({"RATE_LIMIT_MAX_WAIT_S": "-1"})
