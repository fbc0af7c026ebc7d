"""The pure plan of a running cadence: which step is next, when it is due, which are skipped and
why — and, as properties, that due times never go backwards and that no step is due before the
previous one was sent, whatever the policy did to the earlier steps' messages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from scheduler.cadence import Cadence
from scheduler.cadence_plan import Facts, StepRecord, plan

DUE = date(2026, 10, 1)
T0 = datetime(2026, 10, 2, 15, tzinfo=UTC)  # DPD 1, 15:00 UTC
ACTIVE = Facts(state="active", due_date=DUE)


def cadence(*steps: dict[str, object], **extra: object) -> Cadence:
    return Cadence.model_validate({"name": "t", "steps": list(steps), **extra})


def sms(name: str, **offset: object) -> dict[str, object]:
    return {"name": name, "channel": "sms", "template": "first_notice", **offset}


DPD = cadence(sms("d1", dpd=1), sms("d3", dpd=3), sms("d7", dpd=7))


def test_the_first_step_due_is_released_and_the_next_is_projected_from_now() -> None:
    got = plan(DPD, ACTIVE, T0, [], T0)
    assert got.release == 0 and not got.skip and got.stop is None
    assert got.steps[0].due == datetime(2026, 10, 2, tzinfo=UTC)
    assert got.steps[1].due == T0 + timedelta(days=2)
    assert got.next_due == T0 + timedelta(days=2)


def test_a_step_waits_for_the_previous_one_to_be_sent() -> None:
    released = [StepRecord("released", expected_at=T0 + timedelta(days=3))]
    got = plan(DPD, ACTIVE, T0, released, T0 + timedelta(days=2))
    assert got.release is None
    # Deferred by three days: the next step moves by three days, it does not bunch up.
    assert got.steps[1].due == T0 + timedelta(days=5)
    sent = [StepRecord("sent", sent_at=T0 + timedelta(days=3))]
    got = plan(DPD, ACTIVE, T0, sent, T0 + timedelta(days=4))
    assert got.release is None and got.steps[1].due == T0 + timedelta(days=5)
    assert plan(DPD, ACTIVE, T0, sent, T0 + timedelta(days=5)).release == 1


def test_dpd_marks_before_the_start_are_skipped_with_why() -> None:
    late = datetime(2026, 10, 5, 10, tzinfo=UTC)  # DPD 4
    got = plan(DPD, ACTIVE, late, [], late)
    assert [i for i, _ in got.skip] == [0, 1]
    assert "DPD 1 (2026-10-02) was before the cadence started" in got.skip[0][1]
    assert got.release is None and got.steps[2].due == datetime(2026, 10, 8, tzinfo=UTC)


def test_a_reply_since_the_previous_step_skips_a_step_that_says_unless() -> None:
    c = cadence(
        sms("a", after_start="0d"), sms("b", after_start="1d", unless="replied_since_previous")
    )
    sent = [StepRecord("sent", sent_at=T0)]
    replied = Facts(state="active", due_date=DUE, replies=(T0 + timedelta(hours=3),))
    got = plan(c, replied, T0, sent, T0 + timedelta(days=1))
    assert got.skip == (
        (1, "unless.replied_since_previous: the debtor replied since the previous step"),
    )
    assert got.finished
    assert plan(c, ACTIVE, T0, sent, T0 + timedelta(days=1)).release == 1


def test_a_fallback_step_goes_only_if_the_previous_was_not_delivered_in_time() -> None:
    c = cadence(
        sms("a", after_start="0d"),
        {
            "name": "b",
            "after_previous": "0d",
            "channel": "email",
            "template": "first_notice",
            "if": {"previous_not_delivered_within": "24h"},
        },
    )
    delivered = [StepRecord("sent", sent_at=T0, delivered_at=T0 + timedelta(minutes=1))]
    waiting = plan(c, ACTIVE, T0, delivered, T0 + timedelta(hours=1))
    assert waiting.release is None and waiting.steps[1].due == T0 + timedelta(hours=24)
    got = plan(c, ACTIVE, T0, delivered, T0 + timedelta(hours=24))
    assert got.skip and "delivered within 1d" in got.skip[0][1]
    lost = [StepRecord("sent", sent_at=T0)]
    assert plan(c, ACTIVE, T0, lost, T0 + timedelta(hours=24)).release == 1


def test_a_step_for_other_case_states_is_skipped() -> None:
    c = cadence(sms("a", after_start="0d", states=["active"]))
    got = plan(c, Facts(state="paused", due_date=DUE), T0, [], T0)
    assert got.skip and "the case is paused" in got.skip[0][1]


def test_a_step_after_previous_may_not_overtake_a_later_mark() -> None:
    with pytest.raises(ValidationError, match=r"steps\[2\]: comes before an earlier step"):
        cadence(sms("a", dpd=1), sms("b", after_previous="5d"), sms("c", dpd=3))


def test_stop_conditions_stop_the_run() -> None:
    for state, reason, condition in [
        ("closed", "paid", "stop_on.paid"),
        ("closed", "settled", "stop_on.closed"),
        ("hold", "dispute", "stop_on.hold"),
        ("ceased", None, "stop_on.ceased"),
    ]:
        got = plan(DPD, Facts(state=state, state_reason=reason, due_date=DUE), T0, [], T0)
        assert got.stop is not None and got.stop.startswith(condition)
        assert got.release is None
    only_paid = cadence(sms("a", dpd=1), stop_on=["paid"])
    assert plan(only_paid, Facts(state="hold", due_date=DUE), T0, [], T0).stop is None


def test_a_pause_holds_the_due_steps_until_it_ends_and_moves_the_later_ones() -> None:
    sent = [StepRecord("sent", sent_at=T0)]
    until = datetime(2026, 10, 11, tzinfo=UTC)
    paused = Facts(state="paused", state_reason="promise_to_pay", due_date=DUE, paused_until=until)
    during = plan(DPD, paused, T0, sent, T0 + timedelta(days=3))
    assert during.release is None and not during.skip and during.stop is None
    # d3 was due two days after d1 went; it waits for the pause, and d7 keeps its four days.
    assert during.steps[1].due == until and during.steps[2].due == until + timedelta(days=4)
    assert during.next_due == until
    # Once the case is active again, the run resumes at the step it was on.
    after = plan(DPD, ACTIVE, T0, sent, until + timedelta(minutes=1))
    assert after.release == 1
    # A step due after the pause anyway is not moved.
    short = Facts(state="paused", due_date=DUE, paused_until=T0 + timedelta(days=1))
    assert plan(DPD, short, T0, sent, T0).steps[1].due == T0 + timedelta(days=2)


def test_a_pause_holds_even_the_first_step() -> None:
    until = T0 + timedelta(days=2)
    paused = Facts(state="paused", due_date=DUE, paused_until=until)
    got = plan(DPD, paused, T0, [], T0)
    assert got.release is None and got.steps[0].due == until
    assert plan(DPD, paused, T0, [], until).release == 0


def _with_fallback() -> Cadence:
    return cadence(
        {**sms("a", after_start="0d"), "fallback": {"channel": "email", "template": "x"}},
        sms("b", after_start="1d"),
        {"name": "c", "after_start": "2d", "channel": "email", "template": "x"},
    )


def test_an_opted_out_channel_sends_the_fallback_or_skips_the_step() -> None:
    c = _with_fallback()
    no_sms = Facts(state="active", due_date=DUE, opted_out=frozenset({"sms"}))
    got = plan(c, no_sms, T0, [], T0)
    assert got.release == 0 and got.via is not None
    assert (got.via.channel, got.via.template) == ("email", "x")
    assert got.via_reason == (
        "opted_out: the debtor opted out of sms; its fallback goes instead (email, x)"
    )
    assert got.steps[0].reason == got.via_reason
    sent = [StepRecord("sent", sent_at=T0)]
    later = plan(c, no_sms, T0, sent, T0 + timedelta(days=1))
    assert later.skip == ((1, "opted_out: the debtor opted out of sms"),)
    assert later.release is None and later.via is None
    # The email step is not the opted-out channel's: it goes.
    skipped = [*sent, StepRecord("skipped", reason="opted_out")]
    assert plan(c, no_sms, T0, skipped, T0 + timedelta(days=2)).release == 2


def test_a_fallback_on_an_opted_out_channel_too_is_no_way_out() -> None:
    neither = Facts(state="active", due_date=DUE, opted_out=frozenset({"sms", "email"}))
    got = plan(_with_fallback(), neither, T0, [], T0)
    assert got.release is None and got.via is None
    assert got.skip == (
        (0, "opted_out: the debtor opted out of sms, and of email, its fallback's channel"),
    )


def test_the_step_s_own_conditions_come_before_the_opt_out() -> None:
    c = cadence(sms("a", after_start="0d", states=["active"]), stop_on=["paid"])
    facts = Facts(state="hold", due_date=DUE, opted_out=frozenset({"sms"}))
    got = plan(c, facts, T0, [], T0)
    assert got.skip and got.skip[0][1].startswith("states: the case is hold")
    assert plan(c, ACTIVE, T0, [], T0).via is None


# --- Properties --------------------------------------------------------------------------------

offsets = st.lists(st.integers(0, 20), min_size=1, max_size=6)
kinds = st.lists(st.sampled_from(["mark", "previous"]), min_size=6, max_size=6)
delays = st.lists(st.integers(0, 72 * 60), min_size=6, max_size=6)  # minutes the policy held each
fates = st.lists(st.sampled_from(["sent", "skipped"]), min_size=6, max_size=6)


def _cadence(days: list[int], kind: list[str]) -> Cadence:
    steps = []
    reached = 0  # the nominal day the steps so far reach: a later mark is never before it
    for i, d in enumerate(days):
        reached += d
        if i and kind[i] == "previous":
            steps.append(sms(f"s{i}", after_previous=f"{d}d"))
        else:
            steps.append(sms(f"s{i}", after_start=f"{reached}d"))
    return cadence(*steps)


@settings(max_examples=300, deadline=None)
@given(offsets, kinds, delays, fates)
def test_due_times_never_go_backwards_and_never_precede_the_previous_send(
    days: list[int], kind: list[str], delay: list[int], fate: list[str]
) -> None:
    """Run a cadence to its end the way the pump does: at each step's due time release it; the
    policy holds its message for a while (or drops it); then the next step is planned."""
    c = _cadence(days, kind)
    history: list[StepRecord] = []
    now = T0
    previous_due: datetime | None = None
    for i in range(len(c.steps)):
        got = plan(c, ACTIVE, T0, history, now)
        due = got.steps[i].due
        assert due is not None
        if previous_due is not None:
            assert due >= previous_due, "a due time went backwards"
        if history and history[-1].sent_at is not None:
            assert due >= history[-1].sent_at, "due before the previous step was sent"
        now = max(now, due)
        got = plan(c, ACTIVE, T0, history, now)
        assert got.release == i, (i, got)
        assert all(v.due is None or v.due >= due for v in got.steps[i + 1 :])
        sent_at = now + timedelta(minutes=delay[i])
        history.append(
            StepRecord("sent", sent_at=sent_at)
            if fate[i] == "sent"
            else StepRecord("skipped", reason="message suppressed")
        )
        now = sent_at
        previous_due = due
    assert plan(c, ACTIVE, T0, history, now).finished
