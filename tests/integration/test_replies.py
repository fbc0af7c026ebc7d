"""Debtor replies acted on, through the HTTP API (SMS) and the SMTP receiver (email), with an
injected clock: opt-outs, cessation, holds and pauses, the gateway's own answers (compliance.md
§6.5, §6.6; acceptance scenarios §6.9 #2, #3 and #8)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.services.due_work import pump_once
from gateway.store.tables import cases, messages, replies
from tests.conftest import at
from tests.support import ApiClient, case_body, drain, email_reply, reminder, sms_reply

MONDAY_3PM = at("2026-03-09T15:00:00+00:00")


async def answers(rt: Any, case_ref: str, purpose: str) -> list[Any]:
    """The messages of this purpose on the case, oldest first."""
    async with rt.engine.connect() as conn:
        return list(
            await conn.execute(
                sa.select(messages)
                .join(cases, cases.c.id == messages.c.case_id)
                .where(cases.c.case_ref == case_ref, messages.c.purpose == purpose)
                .order_by(messages.c.created_at)
            )
        )


async def the_reply(rt: Any, reply_id: int) -> Any:
    async with rt.engine.connect() as conn:
        return (await conn.execute(sa.select(replies).where(replies.c.id == reply_id))).one()


async def contact_status(api: ApiClient, case_ref: str, channel: str) -> str:
    case = (await api.get(f"/v1/cases/{case_ref}")).body
    [contact] = [c for c in case["contacts"] if c["channel"] == channel]
    return str(contact["status"])


async def effects(api: ApiClient, case_ref: str) -> list[dict[str, Any]]:
    entries = (await api.get(f"/v1/cases/{case_ref}/timeline")).body["entries"]
    return [e["data"] for e in entries if e["kind"] == "reply_effect"]


async def state(api: ApiClient, accepted: Any) -> dict[str, Any]:
    return (await api.get(f"/v1/messages/{accepted.body['id']}")).body


# --- §6.9 #2: "Stop texting me please" -----------------------------------------------------------


async def test_stop_texting_opts_out_sms_only_with_one_confirmation(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-1", case_body())
    later = (clock() + timedelta(hours=1)).isoformat()
    sms = await api.post("/v1/reminders", reminder("R-1", "sms", not_before=later))
    email = await api.post("/v1/reminders", reminder("R-1", "email"))

    stored = await sms_reply(api, "Stop texting me please")
    assert stored["category"] == "opt_out_channel" and stored["case_ref"] == "R-1"
    assert await contact_status(api, "R-1", "sms") == "opted_out"
    assert await contact_status(api, "R-1", "email") == "active"
    [confirmation] = await answers(runtime, "R-1", "opt_out_confirmation")
    assert confirmation.channel == "sms" and confirmation.api_key_id is None

    await drain(runtime)  # no pump: the opt-out enqueued the waiting SMS itself
    got = await state(api, sms)
    assert got["state"] == "suppressed" and got["state_reason"].startswith("channel.opted_out")
    assert (await state(api, email))["state"] == "sent", "other channels continue"

    # A second STOP within five minutes: still opted out, no second confirmation.
    clock.advance(minutes=3)
    assert (await sms_reply(api, "STOP"))["category"] == "opt_out_channel"
    assert len(await answers(runtime, "R-1", "opt_out_confirmation")) == 1
    skipped = [e for e in await effects(api, "R-1") if e["effect"] == "answer_skipped"]
    assert skipped and skipped[-1]["purpose"] == "opt_out_confirmation"

    # The effect is on the timeline with its category, classifier version, rule and basis.
    [opted] = [e for e in await effects(api, "R-1") if e["effect"] == "contact_opted_out"]
    assert opted["category"] == "opt_out_channel" and opted["channel"] == "sms"
    assert opted["classifier_version"].startswith("rules-1.")
    assert opted["rule"] and opted["basis"].startswith("§6.6 #9")
    reply = await the_reply(runtime, stored["reply_id"])
    assert reply.category == "opt_out_channel" and reply.categories == ["opt_out_channel"]
    assert not reply.needs_review and reply.effects


async def test_the_opt_out_confirmation_goes_to_the_opted_out_number(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    """The one message an opted-out point may still get (TCPA 64.1200(a)(12)); no debt in it."""
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-2", case_body())
    await sms_reply(api, "STOP")
    await drain(runtime)
    [confirmation] = await answers(runtime, "R-2", "opt_out_confirmation")
    assert confirmation.state == "sent", confirmation.state_reason
    [sent] = (await api.get("/v1/sandbox/sms")).body["messages"]
    assert "opted out" in sent["body"] and "$" not in sent["body"]


async def test_start_re_enables_only_that_number_with_the_consent_evidence(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-3", case_body())
    await sms_reply(api, "STOP")
    clock.advance(minutes=10)
    assert (await sms_reply(api, "START"))["category"] == "resubscribe"
    assert await contact_status(api, "R-3", "sms") == "active"
    [back] = [e for e in await effects(api, "R-3") if e["effect"] == "contact_resubscribed"]
    assert back["consent"]["source"] == "debtor_reply" and back["consent"]["keyword"] == "start"
    accepted = await api.post("/v1/reminders", reminder("R-3", "sms"))
    await drain(runtime)
    assert (await state(api, accepted))["state"] == "sent"


async def test_a_stop_reaches_the_same_number_on_the_debtors_other_cases(
    api: ApiClient, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-4a", case_body())
    await api.put("/v1/cases/R-4b", case_body(email="other@example.com"))
    await sms_reply(api, "退订")
    assert await contact_status(api, "R-4a", "sms") == "opted_out"
    assert await contact_status(api, "R-4b", "sms") == "opted_out"


# --- §6.9 #3: "I refuse to pay this, do not contact me" by email --------------------------------


async def test_a_written_refusal_ceases_a_us_case(
    api: ApiClient, runtime: Any, clock: Any, receiver: int
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-5", case_body())  # TEST-OPEN is US-RegF: third-party, US
    later = (clock() + timedelta(hours=1)).isoformat()
    pending = await api.post("/v1/reminders", reminder("R-5", "sms", not_before=later))
    await email_reply(runtime, receiver, "R-5", "I refuse to pay this, do not contact me")

    case = (await api.get("/v1/cases/R-5")).body
    assert (case["state"], case["state_reason"]) == ("ceased", "cease_request")
    [changed] = [e for e in await effects(api, "R-5") if e.get("effect") == "case_state"]
    assert changed["category"] == "cease_all" and changed["previous_state"] == "active"
    await drain(runtime)
    got = await state(api, pending)
    assert got["state"] == "suppressed" and "ceased" in got["state_reason"]
    async with runtime.engine.connect() as conn:
        reply = (await conn.execute(sa.select(replies))).one()
    assert reply.categories == ["cease_all", "refuse_to_pay"] and reply.needs_review
    assert await answers(runtime, "R-5", "inbound_acknowledgement") == []


async def test_outside_the_us_a_refusal_stops_electronic_contact_and_goes_to_a_person(
    api: ApiClient, runtime: Any, clock: Any, receiver: int
) -> None:
    clock.set(MONDAY_3PM)
    body = case_body(preset="UK-FCA", phone="+447911123456", currency="GBP")
    await api.put("/v1/cases/R-6", body)
    await email_reply(runtime, receiver, "R-6", "I refuse to pay this, do not contact me")
    case = (await api.get("/v1/cases/R-6")).body
    assert case["state"] == "active", "letters continue"
    assert await contact_status(api, "R-6", "sms") == "opted_out"
    assert await contact_status(api, "R-6", "email") == "opted_out"
    async with runtime.engine.connect() as conn:
        reply = (await conn.execute(sa.select(replies))).one()
    assert reply.needs_review and reply.case_id is not None


# --- §6.9 #8: a text at 23:10 local ---------------------------------------------------------------


async def test_an_inbound_text_gets_one_acknowledgement_within_the_grace(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    # 23:10 in San Francisco (PDT); the debtor's address is in Illinois, so both zones are closed.
    clock.set(at("2026-03-09T23:10:00-07:00"))
    await api.put("/v1/cases/R-7", case_body(preset="US-RegF"))
    assert (await sms_reply(api, "How much do I owe?"))["category"] == "info_request"
    [ack] = await answers(runtime, "R-7", "inbound_acknowledgement")
    assert ack.channel == "sms" and ack.state == "accepted"

    clock.advance(minutes=10)  # within US-RegF's 30-minute inbound grace
    await sms_reply(api, "Hello?")
    assert len(await answers(runtime, "R-7", "inbound_acknowledgement")) == 1

    # The operator's answer with the balance waits for the contact window.
    balance = await api.post("/v1/reminders", reminder("R-7", "sms", template="balance_reply"))
    assert balance.status == 202, balance.body
    await drain(runtime)
    got = await state(api, balance)
    assert got["state"] == "deferred" and got["state_reason"].startswith("window.sms")
    # The acknowledgement itself goes at once, outside the window: the debtor wrote to us.
    sent_ack = (await answers(runtime, "R-7", "inbound_acknowledgement"))[0]
    assert sent_ack.state == "sent", sent_ack.state_reason

    clock.advance(minutes=40)  # past the grace: a new text gets a new acknowledgement
    await sms_reply(api, "Are you there?")
    assert len(await answers(runtime, "R-7", "inbound_acknowledgement")) == 2


@pytest.mark.parametrize(
    "text", ["STOP", "HELP", "wrong number", "He passed away", "leave me alone"]
)
async def test_no_acknowledgement_where_another_answer_or_silence_is_due(
    api: ApiClient, runtime: Any, clock: Any, text: str
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-8", case_body())
    await sms_reply(api, text)
    assert await answers(runtime, "R-8", "inbound_acknowledgement") == []


async def test_help_gets_one_help_reply_with_identity_and_opt_out(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-9", case_body())
    await sms_reply(api, "HELP")
    await sms_reply(api, "help")
    [help_reply] = await answers(runtime, "R-9", "help_reply")
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{help_reply.id}")).body
    assert got["state"] == "sent", got["state_reason"]
    text = got["rendered"]["body"]
    assert "Reply STOP" in text and "debt collector" in text  # a third-party US collector
    assert runtime.settings.collector_name in text and runtime.settings.collector_phone in text


async def test_a_wrong_number_is_invalid_everywhere_and_gets_nothing(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-10", case_body())
    await sms_reply(api, "Wrong number, I don't know this person")
    assert await contact_status(api, "R-10", "sms") == "invalid"
    async with runtime.engine.connect() as conn:
        created = (await conn.execute(sa.select(sa.func.count()).select_from(messages))).scalar()
    assert created == 0


# --- holds and pauses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "case_state", "reason"),
    [
        ("This is not my debt", "hold", "dispute"),
        ("I have filed for bankruptcy", "hold", "bankruptcy"),
        ("我已经破产了", "hold", "bankruptcy"),
        ("My husband passed away", "hold", "deceased"),
        ("I am in breathing space", "hold", "breathing_space"),
        ("I'm in hospital", "hold", "capacity"),
        ("I'll pay on Friday", "paused", "promise_to_pay"),
        ("I already paid", "paused", "already_paid"),
        ("I lost my job", "paused", "hardship"),
        ("Can I pay in instalments?", "paused", "arrangement_request"),
        ("This is harassment", "paused", "complaint"),
    ],
)
async def test_replies_hold_or_pause_the_case(
    api: ApiClient, runtime: Any, clock: Any, text: str, case_state: str, reason: str
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-11", case_body())
    later = (clock() + timedelta(hours=1)).isoformat()
    pending = await api.post("/v1/reminders", reminder("R-11", "sms", not_before=later))
    await sms_reply(api, text)
    case = (await api.get("/v1/cases/R-11")).body
    assert (case["state"], case["state_reason"]) == (case_state, reason)
    await drain(runtime)
    got = await state(api, pending)
    if case_state == "hold":
        assert got["state"] == "suppressed" and got["state_reason"].startswith(f"hold.{reason}")
    else:
        # Deferred to the end of the pause, or dropped when that is past the preset's maximum
        # deferral; either way because of the pause.
        assert got["state"] in ("deferred", "expired") and "hold.paused" in got["state_reason"]


async def test_a_promise_pauses_until_two_days_after_the_promised_date(
    api: ApiClient, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-12", case_body())
    await sms_reply(api, "I'll pay on Friday")
    case = (await api.get("/v1/cases/R-12")).body
    assert case["state_until"].startswith("2026-03-15T00:00:00")  # Friday 13th + 2 days
    [changed] = [e for e in await effects(api, "R-12") if e.get("effect") == "case_state"]
    assert changed["promised_date"] == "2026-03-13"


async def test_a_reply_never_softens_a_hold_into_a_pause(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-13", case_body())
    await sms_reply(api, "This is not my debt")
    await sms_reply(api, "OK I'll pay on Friday")
    case = (await api.get("/v1/cases/R-13")).body
    assert (case["state"], case["state_reason"]) == ("hold", "dispute")
    kept = [e for e in await effects(api, "R-13") if e.get("effect") == "case_state_kept"]
    assert kept and kept[-1]["category"] == "promise_to_pay"
    # …but a worse hold replaces a dispute hold.
    await sms_reply(api, "I filed for bankruptcy")
    assert (await api.get("/v1/cases/R-13")).body["state_reason"] == "bankruptcy"


async def test_several_intents_the_most_restrictive_state_wins(api: ApiClient, clock: Any) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-14", case_body())
    await sms_reply(api, "I lost my job but I'll pay next week")
    case = (await api.get("/v1/cases/R-14")).body
    assert (case["state"], case["state_reason"]) == ("paused", "hardship")  # 30 days > Mar 22
    kept = [e for e in await effects(api, "R-14") if e.get("effect") == "case_state_kept"]
    assert [e["category"] for e in kept] == ["promise_to_pay"]


async def test_a_closed_case_is_not_reopened_by_a_reply(api: ApiClient, clock: Any) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-15", case_body())
    await api.post("/v1/cases/R-15/events", {"type": "payment_received", "amount": "420.50"})
    await sms_reply(api, "This is not my debt")
    assert (await api.get("/v1/cases/R-15")).body["state"] == "closed"


async def test_a_reply_from_an_unknown_sender_waits_for_a_person(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    stored = await sms_reply(api, "I'll pay on Friday", phone="+14155550999")
    assert stored["case_ref"] is None and stored["category"] == "promise_to_pay"
    reply = await the_reply(runtime, stored["reply_id"])
    assert reply.needs_review and reply.facts["promise_date"] == "2026-03-13"
    assert reply.received_at == MONDAY_3PM


async def test_a_reply_made_due_messages_are_enqueued_without_the_pump(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    """Nothing waits for the scheduler: the reply's own transaction enqueues what it made due."""
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/R-16", case_body())
    later = (clock() + timedelta(days=1)).isoformat()
    pending = await api.post("/v1/reminders", reminder("R-16", "sms", not_before=later))
    await sms_reply(api, "This is not my debt")
    assert await drain(runtime) >= 1
    assert (await state(api, pending))["state"] == "suppressed"
    assert await pump_once(runtime) == 0
