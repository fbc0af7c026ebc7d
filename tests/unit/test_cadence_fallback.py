"""The pure escalation decision: which failures fall back, to what, why, when the step is looked
at again — and the cadence files' fallback chains, validated with the field in the error; the
plan counting later steps from a fallback."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from scheduler.cadence import Cadence, CadenceError, Step, chain, load_cadences
from scheduler.cadence_fallback import Attempt, Decision, decide, reached_at
from scheduler.cadence_plan import Facts, StepRecord, plan

T0 = datetime(2026, 10, 2, 15, tzinfo=UTC)
RECHECK = timedelta(seconds=60)


def step(channel: str = "sms", fallback: dict[str, object] | None = None) -> Step:
    body: dict[str, object] = {"name": "s", "dpd": 1, "channel": channel, "template": "x"}
    if fallback is not None:
        body["fallback"] = fallback
    return Step.model_validate(body)


SMS = step("sms", {"channel": "email", "template": "payment_options"})
EMAIL_THEN_LETTER = step("email", {"channel": "letter", "template": "arrears_notice"})
SMS_CHAIN = step(
    "sms",
    {
        "channel": "email",
        "template": "payment_options",
        "fallback": {"channel": "letter", "template": "arrears_notice"},
    },
)


def sent(channel: str = "sms", state: str = "sent", **extra: object) -> Attempt:
    return Attempt(channel, state, sent_at=T0, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "reason", "why"),
    [
        ("undelivered", "unreachable", "sms undelivered: unreachable"),
        ("failed", None, "sms failed: no reason given"),
    ],
)
def test_a_failed_sms_falls_back_to_its_fallback_at_once(
    state: str, reason: str | None, why: str
) -> None:
    got = decide(SMS, [sent(state=state, reason=reason)], T0 + timedelta(minutes=1))
    assert got.fallback is not None and got.fallback.channel == "email"
    assert got.why == why


def test_an_sms_without_a_receipt_falls_back_at_the_end_of_its_watch() -> None:
    waiting = decide(SMS, [sent()], T0 + timedelta(hours=23))
    assert waiting.fallback is None and waiting.check_at == T0 + timedelta(hours=24)
    got = decide(SMS, [sent()], T0 + timedelta(hours=24))
    assert got.fallback is not None
    assert got.why == "sms not delivered within 24h: no delivery receipt"
    short = step("sms", {"channel": "email", "template": "x", "after": "2h"})
    assert decide(short, [sent()], T0 + timedelta(hours=2)).fallback is not None


def test_a_delivered_sms_or_a_quiet_email_does_not_fall_back() -> None:
    delivered = sent(state="delivered", delivered_at=T0 + timedelta(seconds=5))
    assert decide(SMS, [delivered], T0 + timedelta(days=2)) == decide(SMS, [delivered], T0)
    assert decide(SMS, [delivered], T0).fallback is None
    assert decide(SMS, [delivered], T0).check_at is None
    # Email has no delivery receipt: quiet for its watch (72h by default) means it arrived.
    mail = sent("email")
    assert decide(EMAIL_THEN_LETTER, [mail], T0).check_at == T0 + timedelta(hours=72)
    assert decide(EMAIL_THEN_LETTER, [mail], T0 + timedelta(hours=72)).fallback is None


def test_a_bounced_or_failed_email_falls_back_to_a_letter() -> None:
    got = decide(EMAIL_THEN_LETTER, [sent("email", "bounced", reason="invalid")], T0)
    assert got.fallback is not None and got.fallback.channel == "letter"
    assert got.why == "email bounced: invalid"
    assert decide(EMAIL_THEN_LETTER, [Attempt("email", "failed", "smtp 550")], T0).fallback


def test_the_chain_goes_on_from_the_latest_attempt() -> None:
    assert [link.channel for link in chain(SMS_CHAIN)] == ["email", "letter"]
    attempts = [sent(state="undelivered"), sent("email", "bounced", reason="invalid")]
    got = decide(SMS_CHAIN, attempts, T0)
    assert got.fallback is not None and got.fallback.channel == "letter"
    # The letter is the last link: nothing after it, whatever becomes of it.
    done = [*attempts, sent("letter", "returned", reason="returned_to_sender")]
    assert decide(SMS_CHAIN, done, T0) == decide(SMS_CHAIN, done, T0 + timedelta(days=9))
    assert decide(SMS_CHAIN, done, T0).fallback is None
    # A step released straight on its fallback's channel goes on from there.
    assert decide(SMS_CHAIN, [sent("email", "bounced")], T0).fallback.channel == "letter"  # type: ignore[union-attr]


def test_what_is_not_a_channel_failure_does_not_fall_back() -> None:
    for state in ("suppressed", "expired", "cancelled"):
        assert decide(SMS, [Attempt("sms", state)], T0 + timedelta(days=2)) == Decision()
    # A fallback intake refused (no message) ends the chain too.
    refused = [sent(state="undelivered"), Attempt("email", None, "no_contact_point")]
    assert decide(SMS_CHAIN, refused, T0).fallback is None
    # Nor does a step without a fallback, or one a later step has superseded.
    assert decide(step(), [sent(state="undelivered")], T0).fallback is None
    assert decide(SMS, [sent(state="undelivered")], T0, superseded=True).fallback is None


def test_a_fallback_on_its_way_is_looked_at_after_its_next_try() -> None:
    waiting = Attempt("email", "deferred", expected_at=T0 + timedelta(hours=8))
    got = decide(SMS_CHAIN, [sent(state="undelivered"), waiting], T0, recheck=RECHECK)
    assert got.fallback is None and got.check_at == T0 + timedelta(hours=8) + RECHECK
    # The step's own message on its way is the plan's business, not escalation's.
    assert decide(SMS, [Attempt("sms", "accepted")], T0).check_at is None


def test_later_steps_count_from_the_latest_fallback_that_went_or_is_going() -> None:
    assert reached_at([], T0) is None
    went = Attempt("email", "sent", sent_at=T0 + timedelta(hours=1))
    assert reached_at([went], T0) == T0 + timedelta(hours=1)
    going = Attempt("letter", "deferred", expected_at=T0 + timedelta(days=2))
    assert reached_at([went, going], T0) == T0 + timedelta(days=2)
    late = Attempt("letter", "retry_wait", expected_at=T0 - timedelta(hours=1))
    assert reached_at([went, late], T0) == T0, "never before now"
    never = Attempt("letter", "suppressed")
    assert reached_at([went, never], T0) == T0 + timedelta(hours=1)


def test_the_plan_counts_the_next_step_from_the_fallback() -> None:
    cadence = Cadence.model_validate(
        {
            "name": "t",
            "steps": [
                {"name": "a", "dpd": 1, "channel": "sms", "template": "x"},
                {"name": "b", "dpd": 3, "channel": "sms", "template": "x"},
            ],
        }
    )
    facts = Facts(state="active", due_date=date(2026, 10, 1))
    plain = [StepRecord("sent", sent_at=T0)]
    assert plan(cadence, facts, T0, plain, T0).steps[1].due == T0 + timedelta(days=2)
    fell_back = [StepRecord("sent", sent_at=T0, resent_at=T0 + timedelta(days=1))]
    assert plan(cadence, facts, T0, fell_back, T0).steps[1].due == T0 + timedelta(days=3)
    # A step whose own message failed (skipped) and whose fallback went counts from it too.
    skipped = [StepRecord("skipped", reason="message failed", resent_at=T0 + timedelta(hours=1))]
    assert plan(cadence, facts, T0, skipped, T0).steps[1].due == T0 + timedelta(days=2, hours=1)


@pytest.mark.parametrize(
    ("fallback", "problem"),
    [
        ({"channel": "sms", "template": "x"}, "sms already comes earlier"),
        (
            {
                "channel": "letter",
                "template": "x",
                "fallback": {"channel": "email", "template": "x"},
            },
            "a letter has no fallback",
        ),
        (
            {"channel": "email", "template": "x", "fallback": {"channel": "sms", "template": "x"}},
            "fallback.fallback.channel: sms already comes earlier",
        ),
        ({"channel": "email", "template": "x", "after": "30m"}, "between 1h and 14d"),
        ({"channel": "email", "template": "x", "after": "15d"}, "between 1h and 14d"),
        ({"channel": "email", "template": "x", "after": "soon"}, "must be a duration"),
    ],
)
def test_a_bad_fallback_chain_is_refused(fallback: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        step("sms", fallback)
    assert problem in str(refused.value)


def test_the_built_in_cadences_state_their_fallbacks() -> None:
    cadences = load_cadences()
    card = cadences["first-party-card"].steps[0]
    assert card.fallback is not None and card.fallback.after == timedelta(hours=24)
    for cadence in cadences.values():
        for each in cadence.steps:
            if each.channel == "sms":
                assert each.fallback is not None and each.fallback.channel == "email", each.name


def test_a_chains_unknown_template_names_its_link(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(
        "name: acme\nsteps:\n"
        "  - {name: s, dpd: 1, channel: sms, template: soft_reminder,\n"
        "     fallback: {channel: email, template: payment_options,\n"
        "                fallback: {channel: letter, template: no_such_letter}}}\n"
    )
    # Every template the built-in cadences use, so that only acme's is missing.
    templates = {
        (link.channel, link.template): each.purpose
        for cadence in load_cadences().values()
        for each in cadence.steps
        for link in [each, *chain(each)]
    }
    with pytest.raises(CadenceError) as refused:
        load_cadences(tmp_path, templates=templates)
    assert str(refused.value) == (
        "acme.yaml: steps[0].fallback.fallback.template: "
        "no letter template 'no_such_letter' in the template pack"
    )
