"""The acceptance scenarios of compliance.md §6.9, through the HTTP API with an injected clock.

Each test drives the gateway the way an upstream system and a debtor would: PUT a case, POST
reminders, events and replies, let the dispatcher run (`drain`) and the scheduler pump due work
(`pump_once`), then read messages, the case and its timeline back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from gateway.services.due_work import pump_once
from gateway.store.tables import cases, messages
from tests.conftest import at
from tests.support import (
    ApiClient,
    add_template,
    case_body,
    drain,
    email_reply,
    reminder,
    sms_reply,
)

HANDED_OVER = ("sent", "delivered")


async def message(api: ApiClient, accepted: Any) -> dict[str, Any]:
    return (await api.get(f"/v1/messages/{accepted.body['id']}")).body


def entry(msg: dict[str, Any], kind: str) -> dict[str, Any]:
    """The data of the message's last timeline entry of this kind."""
    found: list[dict[str, Any]] = [h["data"] for h in msg["history"] if h["kind"] == kind]
    assert found, f"no {kind} entry in {[h['kind'] for h in msg['history']]}"
    return found[-1]


def us_debtor() -> dict[str, Any]:
    """A Pacific-time address (Los Angeles) and an Eastern mobile number (New York)."""
    body = case_body(preset="US-RegF", phone="+12125550123", email="jane@example.com")
    body["debtor"]["postal_address"] = {
        "lines": ["100 Main St", "Los Angeles, CA 90001"],
        "country": "US",
        "postal_code": "90001",
    }
    return body


def cn_debtor(preset: str = "CN", **contacts: Any) -> dict[str, Any]:
    body = case_body(
        name="张三",
        locale="zh-CN",
        preset=preset,
        phone="+8613812345678",
        email="zhangsan@example.cn",
        currency="CNY",
    )
    body["collector_role"] = "first_party"
    body["debtor"]["postal_address"] = {
        "lines": ["朝阳区建国路88号", "北京市"],
        "country": "CN",
        "postal_code": "100022",
    }
    return body


def uk_debtor() -> dict[str, Any]:
    body = case_body(
        preset="UK-FCA", phone="+447911123456", email="jane@example.co.uk", currency="GBP"
    )
    body["collector_role"] = "first_party"
    body["debtor"]["postal_address"] = {
        "lines": ["10 Downing Lane", "London"],
        "country": "GB",
        "postal_code": "SW1A 2AA",
    }
    return body


# --- #1 -----------------------------------------------------------------------------------------


async def test_1_at_2050_pacific_an_eastern_mobile_waits_for_1100_eastern(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    # Tuesday 24 November 2026, 20:50 PST: inside Pacific hours, but the Eastern mobile makes the
    # allowed window 11:00–21:00 Eastern (08:00–18:00 Pacific).
    clock.set(at("2026-11-24T20:50:00-08:00"))
    await api.put("/v1/cases/A-1", us_debtor())
    accepted = await api.post("/v1/reminders", reminder("A-1", "sms"))
    await drain(runtime)
    waiting = await message(api, accepted)
    assert waiting["state"] == "deferred"
    assert at(waiting["next_attempt_at"]) == at("2026-11-25T11:00:00-05:00")
    assert waiting["waiting"]["rule"] == "window.sms"
    assert (waiting["waiting"]["preset"], waiting["waiting"]["preset_version"]) == ("US-RegF", 2)
    deferred = entry(waiting, "deferred")
    assert "America/New_York" in deferred["reason"] and deferred["preset_version"] == 2

    clock.set(at("2026-11-25T10:59:59-05:00"))
    assert await pump_once(runtime) == 0
    await drain(runtime)
    assert (await message(api, accepted))["state"] == "deferred"
    assert (await api.get("/v1/sandbox/sms")).body["messages"] == []
    clock.set(at("2026-11-25T11:00:00-05:00"))
    assert await pump_once(runtime) == 1
    await drain(runtime)
    sent = await message(api, accepted)
    assert sent["state"] in HANDED_OVER and at(sent["sent_at"]) == at("2026-11-25T11:00:00-05:00")


# --- #4 -----------------------------------------------------------------------------------------


async def test_4_breathing_space_stops_reminders_sends_notices_to_review_lets_replies_through(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(at("2026-11-24T12:00:00+00:00"))  # a Tuesday noon in London
    await api.put("/v1/cases/A-4", uk_debtor())
    await add_template(
        api.settings,
        "nosia",
        "letter",
        "<p>{{ debtor.name }}: Notice of sums in arrears under section 86B of the Consumer "
        "Credit Act 1974. Account ending {{ debt.account }}.</p>",
        purpose="nosia",
    )
    event = await api.post("/v1/cases/A-4/events", {"type": "hold", "hold": "breathing_space"})
    assert event.body["state"] == "hold" and event.body["state_reason"] == "breathing_space"

    reminders = [
        await api.post("/v1/reminders", reminder("A-4", channel, key=f"r-{channel}"))
        for channel in ("sms", "email", "letter")
    ]
    notice = await api.post(
        "/v1/reminders", {**reminder("A-4", "letter", key="nosia"), "template": "nosia"}
    )
    answer = await api.post(
        "/v1/reminders",
        {**reminder("A-4", "sms", key="answer"), "template": "balance_reply"},
    )
    await drain(runtime)

    for accepted in reminders:
        got = await message(api, accepted)
        assert got["state"] == "suppressed"
        assert got["state_reason"].startswith("hold.breathing_space")
    review = await message(api, notice)
    assert review["state"] == "suppressed"
    assert entry(review, "review_required")["rule"] == "hold.breathing_space"
    assert entry(review, "review_required")["verdict"] == "review"
    assert (await message(api, answer))["state"] in HANDED_OVER


# --- #5 -----------------------------------------------------------------------------------------


async def test_5_a_cn_debtor_is_touched_at_most_twice_a_day_and_never_via_an_emergency_contact(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(at("2026-11-24T10:00:00+08:00"))
    body = cn_debtor()
    # The emergency contact (紧急联系人) comes first: an unaddressed SMS must still not go there.
    body["contacts"].insert(
        0, {"channel": "sms", "address": "+8613900139000", "role": "third_party"}
    )
    case = await api.put("/v1/cases/A-5", body)
    assert {"channel": "sms", "address": "+8613900139000", "status": "active"} | {
        "role": "third_party"
    } in case.body["contacts"]

    touches = []
    for i, channel in enumerate(("sms", "email", "letter", "sms")):
        clock.advance(minutes=30)
        touches.append(await api.post("/v1/reminders", reminder("A-5", channel, key=f"t{i}")))
        await drain(runtime)
    states = [(await message(api, t))["state"] for t in touches]
    assert [s in HANDED_OVER for s in states] == [True, True, False, False]
    assert states[2:] == ["suppressed", "suppressed"]
    # CN allows two proactive touches a day across channels (§6.3); the third and the fourth are
    # dropped, not postponed (on_cap: suppress).
    third, fourth = (await message(api, touches[2])), (await message(api, touches[3]))
    assert third["state_reason"].startswith("cap.total.rolling_24h")
    assert fourth["state_reason"].startswith("cap.")
    assert entry(fourth, "suppressed")["preset"] == "CN"
    sms = (await api.get("/v1/sandbox/sms")).body["messages"]
    assert [m["to"] for m in sms] == ["+8613812345678"]

    clock.advance(days=2)
    to_contact = await api.post(
        "/v1/reminders", reminder("A-5", "sms", key="emergency", to="+8613900139000")
    )
    await drain(runtime)
    denied = await message(api, to_contact)
    assert denied["state"] == "suppressed"
    assert denied["state_reason"].startswith("thirdparty.deny")
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 1


# --- #7 -----------------------------------------------------------------------------------------


async def test_7_zones_that_share_no_window_go_to_a_person_or_to_letter(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    # §6.9 #7 says Shanghai and Los Angeles share no 08:00–21:00 window, but two 13-hour windows
    # always overlap (here 08:00–12:45 Shanghai = 16:00–20:45 Los Angeles): the gateway answers
    # with that shared slot, and an empty intersection is shown with windows that are truly
    # disjoint — never by picking one zone.
    clock.set(at("2026-11-24T14:00:00+08:00"))

    def la_and_shanghai(preset: str) -> dict[str, Any]:
        body = cn_debtor(preset)
        body["debtor"]["postal_address"] = {
            "lines": ["100 Main St", "Los Angeles, CA 90001"],
            "country": "US",
            "postal_code": "90001",
        }
        return body

    await api.put("/v1/cases/A-7", la_and_shanghai("CN"))
    shared = await api.post("/v1/policy/evaluate", {"case_ref": "A-7", "channel": "sms"})
    assert shared.body["decision"] == "defer"
    assert {"America/Los_Angeles", "Asia/Shanghai"} <= set(shared.body["zones"])
    assert at(shared.body["until"]) == at("2026-11-25T08:00:00+08:00")

    await api.put("/v1/cases/A-7N", la_and_shanghai("TEST-CN-NARROW"))
    accepted = await api.post("/v1/reminders", reminder("A-7N", "sms"))
    await drain(runtime)
    review = await message(api, accepted)
    assert review["state"] == "suppressed"
    assert entry(review, "review_required")["rule"] == "window.sms"
    assert "no common contact window" in entry(review, "review_required")["reason"]

    # EU reroutes instead: a Paris address and a New Zealand mobile, 12 hours apart in winter.
    eu = case_body(preset="EU", phone="+64211234567", email=None)
    eu["collector_role"] = "first_party"
    eu["debtor"]["postal_address"] = {
        "lines": ["1 rue de Rivoli", "Paris"],
        "country": "FR",
        "postal_code": "75001",
    }
    clock.set(at("2026-11-24T12:00:00+01:00"))
    await api.put("/v1/cases/A-7E", eu)
    accepted = await api.post("/v1/reminders", reminder("A-7E", "sms"))
    await drain(runtime)
    rerouted = await message(api, accepted)
    assert rerouted["state"] == "suppressed"
    moved = entry(rerouted, "rerouted")
    assert (moved["rule"], moved["channel"]) == ("window.sms", "letter")
    letter = (await api.get(f"/v1/messages/{moved['rerouted_to']}")).body
    assert letter["channel"] == "letter" and letter["state"] in HANDED_OVER


# --- #2 -----------------------------------------------------------------------------------------


async def of_purpose(rt: Any, case_ref: str, purpose: str) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list(
            await conn.execute(
                sa.select(messages.c.id, messages.c.state, messages.c.channel)
                .join(cases, cases.c.id == messages.c.case_id)
                .where(cases.c.case_ref == case_ref, messages.c.purpose == purpose)
                .order_by(messages.c.created_at)
            )
        )


async def test_2_stop_texting_suppresses_sms_at_once_confirms_once_and_email_goes_on(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(at("2026-11-24T11:00:00-08:00"))  # Tuesday, inside Pacific and Central hours
    await api.put("/v1/cases/A-2", case_body(preset="US-RegF"))
    later = (clock() + timedelta(hours=1)).isoformat()
    sms = await api.post("/v1/reminders", reminder("A-2", "sms", not_before=later))

    replied_at = clock()
    await sms_reply(api, "Stop texting me please")
    await drain(runtime)
    stopped = await message(api, sms)
    assert stopped["state"] == "suppressed"
    # Stopped at once: on the gateway's clock (pinned here) no time passed between the reply and
    # the suppression, so no pump interval or timer stood in between, only the dispatch the reply
    # itself made due. (A wall-clock bound would measure the machine's load, not the gateway.)
    [suppressed] = [h for h in stopped["history"] if h["kind"] == "suppressed"]
    assert at(suppressed["at"]) == replied_at, "the pending SMS is stopped at once"
    assert stopped["state_reason"].startswith("channel.opted_out")

    # One confirmation, sent to the opted-out number at once; a second STOP adds none.
    clock.advance(minutes=2)
    await sms_reply(api, "STOP")
    await drain(runtime)
    [confirmation] = await of_purpose(runtime, "A-2", "opt_out_confirmation")
    assert confirmation.state in HANDED_OVER and confirmation.channel == "sms"
    texts = (await api.get("/v1/sandbox/sms")).body["messages"]
    assert len(texts) == 1 and texts[0]["to"] == "+14155550123"

    # The email cadence continues, and a later email still carries the opt-out.
    clock.advance(days=1)
    email = await api.post("/v1/reminders", reminder("A-2", "email"))
    await drain(runtime)
    sent = await message(api, email)
    assert sent["state"] in HANDED_OVER
    assert (
        "reply STOP" in sent["rendered"]["text"] and "/v1/unsubscribe/" in sent["rendered"]["text"]
    )


# --- #3 -----------------------------------------------------------------------------------------


async def test_3_a_written_refusal_ceases_a_us_case_and_only_the_termination_notice_goes(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any, receiver: int
) -> None:
    clock.set(at("2026-11-24T11:00:00-08:00"))
    await api.put("/v1/cases/A-3", case_body(preset="US-RegF"))  # a third-party collector
    later = (clock() + timedelta(hours=1)).isoformat()
    pending = await api.post("/v1/reminders", reminder("A-3", "email", not_before=later))
    await email_reply(runtime, receiver, "A-3", "I refuse to pay this, do not contact me")
    case = (await api.get("/v1/cases/A-3")).body
    assert (case["state"], case["state_reason"]) == ("ceased", "cease_request")

    others = [
        await api.post("/v1/reminders", reminder("A-3", channel, key=f"after-{channel}"))
        for channel in ("sms", "letter")
    ]
    notice = await api.post(
        "/v1/reminders",
        {**reminder("A-3", "letter", key="termination"), "template": "termination_notice"},
    )
    clock.advance(hours=2)
    await pump_once(runtime)
    await drain(runtime)
    for accepted in (pending, *others):
        got = await message(api, accepted)
        assert got["state"] == "suppressed" and got["state_reason"].startswith("hold.ceased")
    sent = await message(api, notice)
    assert sent["state"] in HANDED_OVER
    assert "stop contacting you" in sent["rendered"]["html"]


# --- #6 -----------------------------------------------------------------------------------------


async def test_6_litigation_words_on_a_time_barred_us_debt_are_suppressed(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(at("2026-11-24T11:00:00-08:00"))
    await add_template(
        api.settings,
        "final_demand",
        "sms",
        "{{ collector.name }}: pay {{ debt.amount | money(debt.currency) }} now or we may file a "
        "lawsuit. This is from a debt collector. Reply STOP to opt out.",
    )
    barred = case_body(preset="US-RegF", email=None)
    barred["debt"]["sol_expired"] = True
    await api.put("/v1/cases/A-6", barred)
    await api.put("/v1/cases/A-6B", case_body(preset="US-RegF", phone="+14155550199", email=None))
    demand = {"template": "final_demand"}
    stopped = await api.post("/v1/reminders", {**reminder("A-6", "sms"), **demand})
    allowed = await api.post("/v1/reminders", {**reminder("A-6B", "sms"), **demand})
    await drain(runtime)
    got = await message(api, stopped)
    assert got["state"] == "suppressed" and got["state_reason"].startswith("content.forbidden")
    assert "lawsuit" in entry(got, "suppressed")["reason"]
    assert entry(got, "suppressed")["preset"] == "US-RegF"
    assert (await message(api, allowed))["state"] in HANDED_OVER


# --- #8 -----------------------------------------------------------------------------------------


async def test_8_a_text_at_2310_gets_one_acknowledgement_and_the_balance_waits_for_0800(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    body = case_body(preset="US-RegF", email=None)  # a San Francisco mobile
    body["debtor"]["postal_address"] = {
        "lines": ["100 Main St", "Los Angeles, CA 90001"],
        "country": "US",
        "postal_code": "90001",
    }
    clock.set(at("2026-11-24T23:10:00-08:00"))
    await api.put("/v1/cases/A-8", body)
    await sms_reply(api, "How much do I owe?")
    balance = await api.post(
        "/v1/reminders", {**reminder("A-8", "sms", key="balance"), "template": "balance_reply"}
    )
    await drain(runtime)
    [ack] = await of_purpose(runtime, "A-8", "inbound_acknowledgement")
    assert ack.state in HANDED_OVER
    waiting = await message(api, balance)
    assert waiting["state"] == "deferred" and waiting["waiting"]["rule"] == "window.sms"
    assert at(waiting["next_attempt_at"]) == at("2026-11-25T08:00:00-08:00")
    clock.advance(minutes=5)
    await sms_reply(api, "Hello?")
    await drain(runtime)
    assert len(await of_purpose(runtime, "A-8", "inbound_acknowledgement")) == 1
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 1

    clock.set(at("2026-11-25T08:00:00-08:00"))
    await pump_once(runtime)
    await drain(runtime)
    assert (await message(api, balance))["state"] in HANDED_OVER
