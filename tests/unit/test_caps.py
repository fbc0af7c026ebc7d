from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.caps import Cap, CapPolicy, check
from scheduler.decisions import Touch, Verdict
from scheduler.policy_config import cap_policy
from scheduler.presets import load_presets

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
PRESETS = load_presets()


def touches(*spec: tuple[str, float]) -> list[Touch]:
    return [Touch(channel, NOW - timedelta(hours=hours_ago)) for channel, hours_ago in spec]


def test_a_channel_cap_applies_only_to_its_channel() -> None:
    policy = CapPolicy(caps=(Cap(1, timedelta(hours=24), "sms"),))
    assert check("email", "reminder", touches(("sms", 1)), NOW, policy) is None
    capped = check("sms", "reminder", touches(("sms", 1)), NOW, policy)
    assert capped is not None and capped.verdict is Verdict.DEFER
    assert capped.until == NOW + timedelta(hours=23) and capped.rule == "cap.sms.rolling_24h"


def test_the_total_cap_counts_every_channel_and_defers_to_when_it_frees() -> None:
    policy = cap_policy(PRESETS["US-RegF"])
    history = touches(("sms", 10), ("email", 6))
    capped = check("letter", "reminder", history, NOW, policy)
    assert capped is not None and capped.rule == "cap.total.rolling_24h"
    assert capped.until == NOW + timedelta(hours=14)  # the SMS of 10 hours ago ages out first


def test_min_gap_defers_the_second_touch() -> None:
    capped = check("email", "reminder", touches(("sms", 1)), NOW, cap_policy(PRESETS["US-RegF"]))
    assert (
        capped is not None
        and capped.rule == "cap.min_gap"
        and capped.until == NOW + timedelta(hours=3)
    )


def test_cn_drops_the_fourth_touch_of_a_day() -> None:
    policy = cap_policy(PRESETS["CN"])
    history = touches(("sms", 3), ("email", 2))
    capped = check("letter", "reminder", history, NOW, policy, "CN")
    assert (
        capped is not None
        and capped.verdict is Verdict.SUPPRESS
        and capped.rule == "cap.total.rolling_24h"
    )


def test_exempt_purposes_are_neither_capped_nor_counted() -> None:
    policy = cap_policy(PRESETS["US-RegF"])
    history = [Touch("sms", NOW - timedelta(minutes=5), "opt_out_confirmation")]
    assert check("sms", "statutory_notice", touches(("sms", 1), ("sms", 2)), NOW, policy) is None
    assert check("email", "reminder", history, NOW, policy) is None


def test_caps_longer_than_30_days_count_older_touches() -> None:
    # A calendar-month cap (counted over 31 days) and letters 45 days apart: touches older than
    # 30 days used to be dropped before any cap looked at them.
    letters = CapPolicy(caps=(Cap(1, timedelta(days=45), "letter"),))
    capped = check("letter", "reminder", touches(("letter", 40 * 24)), NOW, letters)
    assert capped is not None and capped.until == NOW + timedelta(days=5)
    month = CapPolicy(caps=(Cap(1, timedelta(days=31)),))
    capped = check("sms", "reminder", touches(("email", 30 * 24 + 1)), NOW, month)
    assert capped is not None and capped.until == NOW + timedelta(hours=23)


def test_a_cap_of_zero_suppresses_instead_of_failing() -> None:
    # max 0 closes a channel: no deferral would ever let the touch through.
    policy = CapPolicy(caps=(Cap(0, timedelta(hours=24), "sms"),))
    capped = check("sms", "reminder", [], NOW, policy, "P")
    assert capped is not None and capped.verdict is Verdict.SUPPRESS
    assert capped.rule == "cap.sms.rolling_24h" and capped.until is None
    assert check("email", "reminder", [], NOW, policy) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["sms", "email", "letter"]), st.integers(0, 60 * 24 * 31)),
        max_size=12,
    ),
    st.sampled_from(sorted(PRESETS)),
    st.sampled_from(["sms", "email", "letter"]),
)
def test_an_allowed_touch_never_exceeds_a_cap(
    spec: list[tuple[str, int]], preset: str, channel: str
) -> None:
    policy = cap_policy(PRESETS[preset])
    history = [Touch(c, NOW - timedelta(minutes=m)) for c, m in spec]
    if check(channel, "reminder", history, NOW, policy) is not None:
        return
    after = [*history, Touch(channel, NOW)]
    for cap in policy.caps:
        if cap.channel not in (None, channel):
            continue
        in_window = [
            t
            for t in after
            if (cap.channel is None or t.channel == cap.channel) and NOW - t.at < cap.window
        ]
        assert len(in_window) <= cap.max, cap.rule
    if policy.min_gap is not None and history:
        assert NOW - max(t.at for t in history) >= policy.min_gap
