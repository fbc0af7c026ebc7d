"""The policy rules beyond windows and caps: what each hold still lets through, third parties,
the inbound grace for acknowledgements, and the maximum deferral (compliance §6.1, §6.5, §6.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.decisions import PURPOSES, CaseFacts, ContactFacts, Decision, MessageFacts, Verdict
from scheduler.policy import bounded, cap_purpose, decide
from scheduler.presets import load_presets

PRESETS = load_presets()
ZONES = {
    "US-RegF": "America/New_York",
    "UK-FCA": "Europe/London",
    "CN": "Asia/Shanghai",
    "EU": "Europe/Paris",
}
# Tuesday 24 November 2026, 15:00 Eastern: inside every US window.
NOON = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 25, 4, 10, tzinfo=UTC)  # 23:10 Eastern


def run(
    purpose: str = "reminder",
    *,
    state: str = "active",
    reason: str | None = None,
    until: datetime | None = None,
    status: str = "active",
    role: str = "debtor",
    now: datetime = NOON,
    preset: str = "US-RegF",
    inbound: datetime | None = None,
    acknowledged: bool = False,
    channel: str = "sms",
) -> Decision:
    return decide(
        MessageFacts(channel, purpose, None, scheduled_at=now),
        CaseFacts(state, reason, until, preset, zones=(ZONES[preset],)),
        ContactFacts(
            channel, status, role, last_inbound_at=inbound, acknowledged_since_inbound=acknowledged
        ),
        now,
        PRESETS[preset],
    )


def test_every_decision_names_the_preset_and_its_version() -> None:
    decision = run(state="hold", reason="dispute")
    assert (decision.preset, decision.preset_version) == ("US-RegF", PRESETS["US-RegF"].version)
    assert run(now=NIGHT).preset_version == PRESETS["US-RegF"].version


@pytest.mark.parametrize(
    ("purpose", "verdict"),
    [
        ("reminder", Verdict.SUPPRESS),
        ("statutory_notice", Verdict.REVIEW),
        ("nosia", Verdict.REVIEW),
        ("reply_to_inbound", Verdict.ALLOW),
        ("opt_out_confirmation", Verdict.ALLOW),
    ],
)
def test_breathing_space_lets_replies_through_and_sends_notices_to_a_person(
    purpose: str, verdict: Verdict
) -> None:
    # compliance §6.9 #4, UK-FCA.
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    decision = run(purpose, state="hold", reason="breathing_space", preset="UK-FCA", now=now)
    assert decision.verdict is verdict
    if verdict is not Verdict.ALLOW:
        assert decision.rule == "hold.breathing_space"


@pytest.mark.parametrize(
    ("purpose", "verdict"),
    [
        ("reminder", Verdict.SUPPRESS),
        ("reply_to_inbound", Verdict.SUPPRESS),
        ("termination_notice", Verdict.ALLOW),
    ],
)
def test_a_ceased_us_case_takes_only_the_termination_notice(purpose: str, verdict: Verdict) -> None:
    # compliance §6.9 #3.
    decision = run(purpose, state="ceased", reason="cease_request")
    assert decision.verdict is verdict
    if verdict is Verdict.SUPPRESS:
        assert decision.rule == "hold.ceased" and "cease_request" in decision.reason


def test_a_hold_kind_the_preset_does_not_know_allows_nothing() -> None:
    for purpose in PURPOSES:
        assert run(purpose, state="hold", reason="new_kind").verdict is Verdict.SUPPRESS


def test_deceased_stops_even_the_opt_out_confirmation() -> None:
    decision = run("opt_out_confirmation", state="hold", reason="deceased", status="opted_out")
    assert decision.verdict is Verdict.SUPPRESS and decision.rule == "hold.deceased"


def test_a_pause_holds_reminders_only() -> None:
    until = NOON + timedelta(days=3)
    paused = {"state": "paused", "reason": "promise_to_pay", "until": until}
    assert run(**paused).verdict is Verdict.DEFER  # type: ignore[arg-type]
    assert run("reply_to_inbound", **paused).verdict is Verdict.ALLOW  # type: ignore[arg-type]
    assert run("statutory_notice", **paused).verdict is Verdict.ALLOW  # type: ignore[arg-type]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_third_parties_are_denied_under_every_builtin_preset(preset: str) -> None:
    decision = run(role="third_party", preset=preset)
    assert decision.verdict is Verdict.SUPPRESS and decision.rule == "thirdparty.deny"


def test_only_the_opt_out_confirmation_reaches_an_opted_out_point() -> None:
    assert run("opt_out_confirmation", status="opted_out").verdict is Verdict.ALLOW
    for purpose in ("reminder", "help_reply", "reply_to_inbound"):
        decision = run(purpose, status="opted_out")
        assert decision.verdict is Verdict.SUPPRESS and decision.rule == "channel.opted_out"
    decision = run("opt_out_confirmation", status="invalid")
    assert decision.rule == "channel.invalid"


def test_an_acknowledgement_goes_at_night_once_while_the_debtor_s_message_is_fresh() -> None:
    # compliance §6.5 / §6.9 #8: 23:10 local, the debtor wrote at 23:08.
    wrote = NIGHT - timedelta(minutes=2)
    assert run("inbound_acknowledgement", now=NIGHT, inbound=wrote).verdict is Verdict.ALLOW
    twice = run("inbound_acknowledgement", now=NIGHT, inbound=wrote, acknowledged=True)
    assert twice.verdict is Verdict.SUPPRESS and twice.rule == "inbound_reply.grace"
    stale = run("inbound_acknowledgement", now=NIGHT, inbound=NIGHT - timedelta(minutes=31))
    assert stale.verdict is Verdict.SUPPRESS
    # The informational answer itself waits for the window: 08:00 Eastern.
    reply = run("reply_to_inbound", now=NIGHT, inbound=wrote)
    assert reply.verdict is Verdict.DEFER
    assert reply.until == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def test_confirmations_and_help_ignore_the_window() -> None:
    assert run("opt_out_confirmation", now=NIGHT, status="opted_out").verdict is Verdict.ALLOW
    assert run("help_reply", now=NIGHT).verdict is Verdict.ALLOW
    assert run("reminder", now=NIGHT).verdict is Verdict.DEFER


def test_replies_are_cap_exempt_only_inside_the_grace() -> None:
    preset = PRESETS["US-RegF"]
    message = MessageFacts("sms", "reply_to_inbound", None)
    fresh = ContactFacts("sms", "active", last_inbound_at=NOON - timedelta(minutes=5))
    assert cap_purpose(message, fresh, NOON, preset) == "reply_to_inbound"
    many = ContactFacts(
        "sms", "active", last_inbound_at=NOON - timedelta(minutes=5), replies_since_inbound=3
    )
    assert cap_purpose(message, many, NOON, preset) == "reminder"
    late = ContactFacts("sms", "active", last_inbound_at=NOON - timedelta(hours=2))
    assert cap_purpose(message, late, NOON, preset) == "reminder"
    never = ContactFacts("sms", "active")
    assert cap_purpose(message, never, NOON, preset) == "reminder"


def test_a_deferral_past_the_maximum_becomes_an_expiry_with_its_reason() -> None:
    # A letter has no window, so every hour counts (tests/unit/test_deferral.py: windowed ones).
    preset = PRESETS["US-RegF"]
    scheduled = NOON - timedelta(hours=40)
    message = MessageFacts("letter", "reminder", None, scheduled_at=scheduled)
    case = CaseFacts("active", preset="US-RegF", zones=(ZONES["US-RegF"],))
    soon = Decision(Verdict.DEFER, rule="cap.letter", until=scheduled + timedelta(hours=48))
    assert bounded(soon, message, case, preset) is soon
    late = Decision(Verdict.DEFER, rule="cap.letter", until=scheduled + timedelta(hours=49))
    dropped = bounded(late, message, case, preset)
    assert dropped.verdict is Verdict.SUPPRESS and dropped.rule == "defer.max_exceeded"
    assert "cap.letter" in dropped.reason and "48 h" in dropped.reason
    # The caller's own not_before is never cut short.
    asked = Decision(Verdict.DEFER, rule="message.not_before", until=NOON + timedelta(days=9))
    assert bounded(asked, message, case, preset) is asked


def test_the_api_purpose_list_is_the_policy_s() -> None:
    from typing import get_args

    from gateway.schemas import Purpose

    assert get_args(Purpose) == PURPOSES


def personal(data: dict[str, object], purpose: str = "reminder", now: datetime = NOON, **kw: str):
    from scheduler.personal import restrictions_of

    return decide(
        MessageFacts(kw.get("channel", "sms"), purpose, None, scheduled_at=now),
        CaseFacts(
            "active",
            preset="US-RegF",
            zones=("America/New_York",),
            restrictions=restrictions_of(data),  # type: ignore[arg-type]
        ),
        ContactFacts(kw.get("channel", "sms"), "active"),
        now,
        PRESETS["US-RegF"],
    )


def test_the_debtor_s_hours_narrow_the_window_in_their_zone() -> None:
    # 15:00 Eastern; the debtor asked for 18:00–20:00 only.
    evening = {"hours": {"start": "18:00", "end": "20:00"}}
    decision = personal(evening)
    assert (decision.verdict, decision.rule) == (Verdict.DEFER, "personal.hours")
    assert decision.until == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 18:00 EST
    assert "18:00–20:00" in decision.reason
    assert personal(evening, now=datetime(2026, 11, 24, 23, 30, tzinfo=UTC)).allowed
    # The preset's margin still applies at the end: 19:45 is the last instant.
    assert personal(evening, now=datetime(2026, 11, 25, 0, 46, tzinfo=UTC)).rule == (
        "personal.hours"
    )
    # They never widen the preset: 06:00–23:00 is still 08:00–20:45 under US-RegF.
    wide = personal({"hours": {"start": "06:00", "end": "23:00"}}, now=NIGHT)
    assert wide.rule == "window.sms"


def test_the_debtor_s_days_and_channels() -> None:
    weekends = personal({"days": ["sat", "sun"]})  # Tuesday
    assert weekends.rule == "personal.hours"
    assert weekends.until == datetime(2026, 11, 28, 13, 0, tzinfo=UTC)  # Saturday 08:00 EST
    only_email = {"channels": ["email", "letter"]}
    blocked = personal(only_email)
    assert (blocked.verdict, blocked.rule) == (Verdict.SUPPRESS, "personal.channel")
    assert personal(only_email, channel="email").allowed
    # An answer the debtor asked for by texting us still goes by text.
    assert personal(only_email, "help_reply").allowed


def test_hours_that_never_meet_the_window_reroute_or_review() -> None:
    night_owl = personal({"hours": {"start": "22:00", "end": "24:00"}})
    assert night_owl.verdict is Verdict.REROUTE and night_owl.channel == "letter"
    assert night_owl.rule == "personal.hours"
