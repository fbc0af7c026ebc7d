"""The maximum deferral counts open contact-window time, not calendar time (compliance §6.1
"Deferral policy"): a message waiting out a closed window (nights, Sundays, bank holidays, 除夕
and 春节) is a wait, not an expiry; one held back by caps or a pause for longer than
`max_defer_hours` of open window still expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.decisions import CaseFacts, ContactFacts, Decision, MessageFacts, Verdict
from scheduler.deferral import last_deferral
from scheduler.personal import restrictions_of
from scheduler.policy import bounded, decide
from scheduler.presets import load_presets

PRESETS = load_presets()
LONDON, SHANGHAI = ZoneInfo("Europe/London"), ZoneInfo("Asia/Shanghai")


def decided(
    now: datetime,
    preset: str,
    zone: str,
    *,
    channel: str = "sms",
    purpose: str = "reminder",
    scheduled_at: datetime | None = None,
    **case: object,
) -> Decision:
    """What the dispatcher decides for a message meant to go at `scheduled_at` (default: now)."""
    message = MessageFacts(channel, purpose, None, scheduled_at=scheduled_at or now)
    facts = CaseFacts(preset=preset, zones=(zone,), **case)  # type: ignore[arg-type]
    decision = decide(message, facts, ContactFacts(channel, "active"), now, PRESETS[preset])
    return bounded(decision, message, facts, PRESETS[preset])


def capped(
    until: datetime, scheduled_at: datetime, preset: str, zone: str, **kw: object
) -> Decision:
    """A frequency cap's deferral to `until` of a message meant to go at `scheduled_at`."""
    message = MessageFacts(
        str(kw.get("channel", "sms")), "reminder", None, scheduled_at=scheduled_at
    )
    facts = CaseFacts("active", preset=preset, zones=(zone,), restrictions=kw.get("restrictions"))  # type: ignore[arg-type]
    cap = Decision(Verdict.DEFER, rule="cap.sms.rolling_7d", until=until, reason="cap")
    return bounded(cap, message, facts, PRESETS[preset])


@pytest.mark.parametrize(
    ("accepted", "opens"),
    [
        # Thursday 24 Dec 2026 after 20:45: Christmas, Boxing Day, Sunday, the substitute Boxing
        # Day (Mon 28th) are closed; the window opens Tuesday 29th at 08:00 (GMT).
        (datetime(2026, 12, 24, 21, 0, tzinfo=LONDON), datetime(2026, 12, 29, 8, 0, tzinfo=LONDON)),
        # Saturday 2 May 2026 after 16:45: Sunday closed, Monday 4 May the Early May bank holiday.
        (datetime(2026, 5, 2, 18, 0, tzinfo=LONDON), datetime(2026, 5, 5, 8, 0, tzinfo=LONDON)),
    ],
)
def test_a_uk_reminder_waits_out_a_long_closure(accepted: datetime, opens: datetime) -> None:
    assert opens - accepted > PRESETS["UK-FCA"].max_defer  # longer than 48 h of calendar time
    decision = decided(accepted, "UK-FCA", "Europe/London", state="active")
    assert (decision.verdict, decision.rule) == (Verdict.DEFER, "window.sms")
    assert decision.until == opens
    # Re-decided later during the closure (the pump wakes it early), it still only waits.
    sunday = decided(
        accepted + timedelta(days=1),
        "UK-FCA",
        "Europe/London",
        scheduled_at=accepted,
        state="active",
    )
    assert (sunday.verdict, sunday.until) == (Verdict.DEFER, opens)
    assert decided(opens, "UK-FCA", "Europe/London", scheduled_at=accepted, state="active").allowed


def test_a_cn_reminder_waits_out_chuxi_and_the_first_day_of_spring_festival() -> None:
    # The CN preset blocks only 除夕 (Fri 5 Feb 2027) and 春节 day 1 (Sat 6 Feb); every other day
    # is open 08:00–20:45 Beijing time. Accepted on Thursday 4 Feb at 21:00, after the cutoff.
    accepted = datetime(2027, 2, 4, 21, 0, tzinfo=SHANGHAI)
    opens = datetime(2027, 2, 7, 8, 0, tzinfo=SHANGHAI)
    decision = decided(accepted, "CN", "Asia/Shanghai", state="active")
    assert (decision.verdict, decision.rule, decision.until) == (Verdict.DEFER, "window.sms", opens)
    on_chuxi = datetime(2027, 2, 5, 10, 0, tzinfo=SHANGHAI)
    assert decided(on_chuxi, "CN", "Asia/Shanghai", state="active").until == opens
    # Open on 4 Feb until 20:45, so a message due at 09:00 that day misses 11.75 h of window
    # before the festival: still well inside 48 h of open time.
    early = datetime(2027, 2, 4, 9, 0, tzinfo=SHANGHAI)
    assert capped(opens, early, "CN", "Asia/Shanghai").verdict is Verdict.DEFER


def test_a_cap_that_holds_a_message_for_more_than_the_maximum_of_open_window_still_expires() -> (
    None
):
    # UK weekdays are open 08:00–20:45 (12.75 h). Due Monday 9 Nov 2026 at 10:00 and capped: to
    # Thursday 10:00 it misses 10.75 + 2 × 12.75 + 2 = 38.25 h of window (kept), to Friday
    # 10:00 51 h (dropped) — where 48 h of calendar time already dropped both.
    due = datetime(2026, 11, 9, 10, 0, tzinfo=LONDON)
    kept = capped(datetime(2026, 11, 12, 10, 0, tzinfo=LONDON), due, "UK-FCA", "Europe/London")
    assert kept.verdict is Verdict.DEFER
    dropped = capped(datetime(2026, 11, 13, 10, 0, tzinfo=LONDON), due, "UK-FCA", "Europe/London")
    assert (dropped.verdict, dropped.rule) == (Verdict.SUPPRESS, "defer.max_exceeded")
    assert "cap.sms.rolling_7d" in dropped.reason and "48 h" in dropped.reason
    assert "open" in dropped.reason  # the reason says what was counted


def test_a_pause_counts_only_the_window_it_keeps_closed() -> None:
    # A promise to pay pauses reminders for five days: more than 48 h of open window, dropped.
    due = datetime(2026, 11, 9, 10, 0, tzinfo=LONDON)
    paused = {"state": "paused", "state_reason": "promise_to_pay"}
    long = decided(due, "UK-FCA", "Europe/London", state_until=due + timedelta(days=5), **paused)
    assert (long.verdict, long.rule) == (Verdict.SUPPRESS, "defer.max_exceeded")
    assert "hold.paused" in long.reason
    # Paused over Christmas from Thursday 24 Dec at 15:00 to Tuesday 29th at 12:00: only 5.75 h
    # on the 24th and 4 h on the 29th were open, so the reminder waits for the pause to end.
    eve = datetime(2026, 12, 24, 15, 0, tzinfo=LONDON)
    end = datetime(2026, 12, 29, 12, 0, tzinfo=LONDON)
    waits = decided(eve, "UK-FCA", "Europe/London", state_until=end, **paused)
    assert (waits.verdict, waits.rule, waits.until) == (Verdict.DEFER, "hold.paused", end)


def test_the_debtor_s_own_hours_are_part_of_the_window_that_is_counted() -> None:
    # A debtor who asked for Saturdays only: a reminder due on Monday waits five days for a
    # window that was closed to it all week, and goes on Saturday.
    weekend = restrictions_of({"days": ["sat"]})
    monday = datetime(2026, 11, 9, 10, 0, tzinfo=LONDON)
    saturday = datetime(2026, 11, 14, 9, 0, tzinfo=LONDON)
    decision = decided(monday, "UK-FCA", "Europe/London", state="active", restrictions=weekend)
    assert (decision.verdict, decision.rule, decision.until) == (
        Verdict.DEFER,
        "personal.hours",
        saturday,
    )
    # Without them the same wait misses almost 62 h of open window: dropped.
    plain = capped(saturday, monday, "UK-FCA", "Europe/London")
    assert plain.rule == "defer.max_exceeded"


def test_letters_have_no_window_so_every_hour_of_the_wait_counts() -> None:
    due = datetime(2026, 12, 24, 21, 0, tzinfo=LONDON)
    later = datetime(2026, 12, 29, 8, 0, tzinfo=LONDON)
    assert capped(later, due, "UK-FCA", "Europe/London", channel="letter").rule == (
        "defer.max_exceeded"
    )
    soon = capped(due + timedelta(hours=47), due, "UK-FCA", "Europe/London", channel="letter")
    assert soon.verdict is Verdict.DEFER


def test_the_caller_s_own_not_before_is_never_cut_short() -> None:
    due = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
    message = MessageFacts("sms", "reminder", None, scheduled_at=due)
    facts = CaseFacts("active", preset="UK-FCA", zones=("Europe/London",))
    asked = Decision(Verdict.DEFER, rule="message.not_before", until=due + timedelta(days=9))
    assert bounded(asked, message, facts, PRESETS["UK-FCA"]) is asked


def test_the_next_instant_follows_each_rule_s_until_to_where_the_message_may_go() -> None:
    # Paused until Saturday 14 Nov 00:00: at midnight the window is closed, it opens at 09:00.
    due = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)
    facts = CaseFacts(
        "paused",
        "promise_to_pay",
        datetime(2026, 11, 14, tzinfo=UTC),
        "UK-FCA",
        zones=("Europe/London",),
    )
    message = MessageFacts("sms", "reminder", None, scheduled_at=due)
    preset = PRESETS["UK-FCA"]

    def decide_at(moment: datetime) -> Decision:
        return decide(message, facts, ContactFacts("sms", "active"), moment, preset)

    first = decide_at(due)
    assert (first.rule, first.until) == ("hold.paused", datetime(2026, 11, 14, tzinfo=UTC))
    last = last_deferral(first, decide_at)
    assert (last.rule, last.until) == ("window.sms", datetime(2026, 11, 14, 9, 0, tzinfo=UTC))
    # Allowed, suppressed or never re-decided later: the decision itself.
    allowed = decide_at(datetime(2026, 11, 16, 10, 0, tzinfo=UTC))
    assert last_deferral(allowed, decide_at) is allowed
    hops = [Decision(Verdict.DEFER, rule="cap", until=due + timedelta(hours=h)) for h in (1, 2)]
    assert last_deferral(hops[0], lambda _: Decision(Verdict.SUPPRESS, rule="x")) is hops[0]
    assert last_deferral(hops[1], lambda _: hops[0]) is hops[1]  # never backwards


def test_hours_that_never_meet_the_window_miss_nothing_while_paused_but_not_beyond_a_year() -> None:
    # A debtor in Paris with an Auckland mobile who asked for 09:00–10:00: the zones are 11–13 h
    # apart, so those hours never meet in both. A paused reminder misses no window while it
    # waits (when the pause ends it goes by letter, §6.4 step 6) — up to a year of waiting.
    due = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)
    zones = ("Europe/Paris", "Pacific/Auckland")
    morning = restrictions_of({"hours": {"start": "09:00", "end": "10:00"}})
    message = MessageFacts("sms", "reminder", None, scheduled_at=due)
    preset = PRESETS["EU"]
    for days, verdict in ((300, Verdict.DEFER), (400, Verdict.SUPPRESS)):
        facts = CaseFacts(
            "paused",
            "hardship",
            due + timedelta(days=days),
            "EU",
            zones=zones,
            restrictions=morning,
        )
        decision = decide(message, facts, ContactFacts("sms", "active"), due, preset)
        assert decision.rule == "hold.paused"
        assert bounded(decision, message, facts, preset).verdict is verdict
