from datetime import UTC, datetime, timedelta

import pytest

from gateway.states import ALLOWED, CLAIMABLE, EVENT_TO_STATE, FINAL, State, sources_of
from gateway.store.messages import IllegalTransition, _sources
from scheduler.policy import CaseFacts, ContactFacts, MessageFacts, Verdict, decide

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def test_handed_over_messages_never_go_back_to_sending() -> None:
    for state in (State.SENT, State.DELIVERED, State.UNKNOWN):
        assert State.SENDING not in ALLOWED[state]
        assert State.DISPATCHING not in ALLOWED[state]


def test_unknown_is_only_reached_from_sending() -> None:
    assert sources_of(State.UNKNOWN) == (State.SENDING,)


def test_terminal_states_do_not_return_to_the_queue() -> None:
    for state in FINAL:
        assert not (ALLOWED[state] & set(CLAIMABLE))


def test_a_late_sent_receipt_cannot_undo_delivered() -> None:
    assert State.DELIVERED not in sources_of(EVENT_TO_STATE["sent"])


def test_illegal_transitions_are_refused() -> None:
    with pytest.raises(IllegalTransition):
        _sources(State.SENDING, [State.SENT])


def facts(
    state: str = "active",
    contact: str = "active",
    not_before: datetime | None = None,
    until: datetime | None = None,
    reason: str | None = None,
):
    return (
        MessageFacts("sms", "reminder", not_before),
        CaseFacts(state, reason, until, "US-RegF"),
        ContactFacts("sms", contact),
        NOW,
    )


def test_active_case_active_contact_is_allowed() -> None:
    assert decide(*facts()).verdict is Verdict.ALLOW


@pytest.mark.parametrize(
    ("state", "rule"),
    [("hold", "hold.dispute"), ("ceased", "hold.ceased"), ("closed", "hold.closed")],
)
def test_holds_suppress(state: str, rule: str) -> None:
    decision = decide(*facts(state=state, reason="dispute"))
    assert decision.verdict is Verdict.SUPPRESS and decision.rule == rule


def test_paused_case_defers_until_the_pause_ends() -> None:
    until = NOW + timedelta(days=3)
    decision = decide(*facts(state="paused", until=until, reason="promise_to_pay"))
    assert (decision.verdict, decision.until) == (Verdict.DEFER, until)


@pytest.mark.parametrize("status", ["opted_out", "invalid", "inactive"])
def test_ineligible_contact_points_suppress(status: str) -> None:
    decision = decide(*facts(contact=status))
    assert decision.verdict is Verdict.SUPPRESS and decision.rule == f"channel.{status}"


def test_holds_win_over_everything_else() -> None:
    decision = decide(
        *facts(state="hold", contact="opted_out", not_before=NOW + timedelta(hours=1))
    )
    assert decision.rule == "hold.hold"  # a hold of no stated kind


def test_not_before_defers_to_that_instant() -> None:
    later = NOW + timedelta(hours=5)
    decision = decide(*facts(not_before=later))
    assert (decision.verdict, decision.until) == (Verdict.DEFER, later)
