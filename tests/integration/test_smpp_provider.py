"""The SMPP provider over TCP against a test SMSC: through the gateway (API, dispatch, receipts,
replies) where it matters, and the session's own behaviour (bind, window, keep-alive) directly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aredis

from channels.base import DeliveryUnknown, Outgoing, PermanentProviderError, TransientProviderError
from channels.events import DeliveryEvent, InboundMessage
from channels.sms.smpp import SmppSms
from channels.sms.smpp.pdu import Status
from gateway.settings import Settings
from tests.conftest import at
from tests.smsc import Smsc
from tests.support import ApiClient, Clock, case_body, drain, reminder, wait_for

SYSTEM_ID, PASSWORD = "gateway", "s3cret"
# Daytime for a US and a Chinese debtor alike (Mon 19:00 Chicago, Tue 09:00 Shanghai).
WORKDAY = at("2026-11-24T01:00:00+00:00")


@pytest.fixture
def hex_ids() -> bool:
    return False


@pytest.fixture
def id_format() -> str:
    return "same"


@pytest.fixture
async def smsc(hex_ids: bool) -> AsyncIterator[Smsc]:
    server = await Smsc(SYSTEM_ID, PASSWORD, hex_ids=hex_ids).start()
    yield server
    await server.stop()


@pytest.fixture
def submit_timeout_s() -> float:
    """Generous: a loaded machine must not turn an answer into an unknown outcome. A test of the
    timeout sets a short one (parametrized by this name)."""
    return 15.0


@pytest.fixture
def settings(
    settings: Settings, smsc: Smsc, id_format: str, clock: Clock, submit_timeout_s: float
) -> Settings:
    """The shared settings with SMPP as the only SMS provider, bound to the test SMSC."""
    clock.set(WORKDAY)
    return settings.with_(
        sms_providers=["smpp"],
        smpp_port=smsc.port,
        smpp_system_id=SYSTEM_ID,
        smpp_password=PASSWORD,
        smpp_submit_timeout_s=submit_timeout_s,
        smpp_receipt_id_format=id_format,
    )


async def send_reminder(api: ApiClient, runtime: Any, case_ref: str, **case: Any) -> str:
    assert (await api.put(f"/v1/cases/{case_ref}", case_body(**case))).status in (200, 201)
    accepted = await api.post("/v1/reminders", reminder(case_ref, "sms"))
    assert accepted.status == 202, accepted
    await drain(runtime)
    return str(accepted.body["id"])


async def message(api: ApiClient, message_id: str, want: str | None = None) -> dict[str, Any]:
    async def got() -> dict[str, Any] | None:
        body = (await api.get(f"/v1/messages/{message_id}")).body
        return body if want is None or body["state"] == want else None

    result: dict[str, Any] = await wait_for(got, timeout=5.0, interval=0.05)
    return result


# --- through the gateway ------------------------------------------------------------------------


async def test_submit_then_delivery_receipt_marks_the_message_delivered(
    api: ApiClient, runtime: Any, smsc: Smsc
) -> None:
    message_id = await send_reminder(api, runtime, "S-1")
    submit = smsc.submits[0]
    assert submit.fields["registered_delivery"] == 1 and submit.fields["data_coding"] == 0
    assert (submit.fields["dest_addr_ton"], submit.fields["destination_addr"]) == (1, "14155550123")
    assert (submit.fields["source_addr_ton"], submit.fields["source_addr"]) == (1, "15005550006")
    sent = await message(api, message_id, "sent")
    assert sent["provider"] == "smpp" and sent["provider_ref"] == submit.message_id
    assert smsc.texts() == [sent["rendered"]["body"]]  # GSM-7, in as many parts as it needs

    assert await smsc.receipt(submit.message_id, "DELIVRD") == Status.ROK
    delivered = await message(api, message_id, "delivered")
    assert [e["type"] for e in delivered["events"]] == ["delivered"]
    # The SMSC repeating itself changes nothing.
    assert await smsc.receipt(submit.message_id, "DELIVRD") == Status.ROK
    assert len((await message(api, message_id))["events"]) == 1


@pytest.mark.parametrize("submit_timeout_s", [0.5])
async def test_a_submit_left_unanswered_makes_the_message_unknown_and_it_is_not_resent(
    api: ApiClient, runtime: Any, smsc: Smsc, clock: Clock
) -> None:
    from gateway.services.due_work import pump_once, sweep_once

    smsc.submit_delay_s = 5.0  # ten times the provider's submit timeout
    message_id = await send_reminder(api, runtime, "S-U")
    got = await message(api, message_id, "unknown")
    assert "submit_sm_resp" in got["state_reason"]
    assert [h["kind"] for h in got["history"]][-1] == "outcome_unknown"
    clock.advance(hours=1)
    await sweep_once(runtime)
    assert await pump_once(runtime) == 0
    await drain(runtime)
    # The SMSC finally answers the first submit; by then nothing else was submitted, nor is.
    await wait_for(_async(lambda: smsc.submits), timeout=10.0, interval=0.05)
    assert len(smsc.submits) == 1 and smsc.outstanding == 0
    assert (await message(api, message_id))["state"] == "unknown"


async def test_long_chinese_sms_goes_as_concatenated_ucs2_parts(
    api: ApiClient, runtime: Any, smsc: Smsc
) -> None:
    message_id = await send_reminder(
        api, runtime, "S-2", name="张伟", locale="zh-CN", phone="+8613800138000", preset="TEST-OPEN"
    )
    body = (await message(api, message_id, "sent"))["rendered"]["body"]
    assert len(body) > 70
    parts = smsc.submits
    assert len(parts) == -(-len(body) // 67)
    assert {(p.fields["data_coding"], p.fields["esm_class"]) for p in parts} == {(8, 0x40)}
    assert len({p.concat.ref for p in parts if p.concat}) == 1
    assert [p.concat.seq for p in parts if p.concat] == list(range(1, len(parts) + 1))
    assert smsc.texts() == [body]
    sent_entry = next(h for h in (await message(api, message_id))["history"] if h["kind"] == "sent")
    assert sent_entry["data"]["parts"] == len(parts)
    assert sent_entry["data"]["encoding"] == "UCS-2"
    assert sent_entry["data"]["part_refs"] == [p.message_id for p in parts]

    # The last part's receipt comes first, perhaps on another worker's session: it still lands.
    assert await smsc.receipt(parts[-1].message_id, "DELIVRD") == Status.ROK
    await message(api, message_id, "delivered")
    assert await smsc.receipt(parts[0].message_id, "DELIVRD") == Status.ROK
    got = await wait_for(lambda: _events_at_least(api, message_id, 2), timeout=5.0, interval=0.05)
    assert got["state"] == "delivered"


async def _events_at_least(api: ApiClient, message_id: str, n: int) -> dict[str, Any] | None:
    body = (await api.get(f"/v1/messages/{message_id}")).body
    return body if len(body["events"]) >= n else None


async def test_throttled_submit_waits_and_slows_the_session(
    api: ApiClient, runtime: Any, smsc: Smsc, clock: Clock
) -> None:
    smsc.answer_next(1, Status.RTHROTTLED)
    message_id = await send_reminder(api, runtime, "S-3")
    waiting = await message(api, message_id, "retry_wait")
    assert waiting["state_reason"] == "smpp: ESME_RTHROTTLED"
    assert at(waiting["next_attempt_at"]) >= clock() + timedelta(seconds=5)
    assert runtime.providers["smpp"].esme.pacer.gap > 0
    assert smsc.submits == []


async def test_session_dropped_by_the_smsc_reconnects_and_sends(
    api: ApiClient, runtime: Any, smsc: Smsc
) -> None:
    await send_reminder(api, runtime, "S-4")
    provider = runtime.providers["smpp"]
    await smsc.drop()
    await wait_for(_async(lambda: not provider.esme.bound), timeout=15.0, interval=0.01)
    # The next send waits for the session to bind again instead of failing.
    message_id = await send_reminder(api, runtime, "S-5", phone="+14155550124")
    assert (await message(api, message_id))["state"] == "sent"
    assert smsc.binds == [Status.ROK, Status.ROK] and len(smsc.texts()) == 2


def _async(predicate: Any) -> Any:
    async def check() -> Any:
        return predicate()

    return check


async def test_stop_from_the_debtor_lands_on_the_case_timeline(
    api: ApiClient, runtime: Any, smsc: Smsc
) -> None:
    await api.put("/v1/cases/S-6", case_body(phone="+14155550123"))
    assert await smsc.mo("14155550123", "STOP") == Status.ROK
    entries = (await api.get("/v1/cases/S-6/timeline")).body["entries"]
    [reply] = [e for e in entries if e["kind"] == "reply_received"]
    assert reply["data"]["channel"] == "sms" and reply["actor"] == "debtor:sms"


@pytest.mark.parametrize(
    ("hex_ids", "id_format", "receipt_form", "matches"),
    [
        (True, "hex_to_dec", "{:d}", True),  # submit_sm_resp 4D2, receipt id:1234
        (False, "dec_to_hex", "{:x}", True),  # submit_sm_resp 1234, receipt id:4d2
        (True, "same", "{:d}", False),  # the mismatch Jasmin users meet without dlr_msgid
    ],
)
async def test_receipt_ids_in_another_base_match_with_the_setting(
    api: ApiClient, runtime: Any, smsc: Smsc, receipt_form: str, matches: bool
) -> None:
    message_id = await send_reminder(api, runtime, "S-7")
    submit = smsc.submits[0]
    number = int(submit.message_id, 16 if smsc.hex_ids else 10)
    assert await smsc.receipt(receipt_form.format(number), "DELIVRD") == Status.ROK
    got = await message(api, message_id)
    if matches:
        got = await message(api, message_id, "delivered")
    assert got["state"] == ("delivered" if matches else "sent")


# --- the session itself -------------------------------------------------------------------------


class RecordingSink:
    """Stands in for the database sink; `fail` makes it raise like a database that is down."""

    def __init__(self) -> None:
        self.fail = False
        self.received: list[DeliveryEvent] = []
        self.replies: list[InboundMessage] = []

    async def events(self, events: list[DeliveryEvent]) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.received.extend(events)

    async def inbound(self, messages: list[InboundMessage]) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.replies.extend(messages)


@pytest.fixture
async def make_provider(redis_url: str, redis_client: Any, smsc: Smsc) -> AsyncIterator[Any]:
    client = aredis.Redis.from_url(redis_url)
    made: list[SmppSms] = []

    async def make(**overrides: Any) -> SmppSms:
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": smsc.port,
            "system_id": SYSTEM_ID,
            "password": PASSWORD,
            "source_addr": "Acme",
            "redis": client,
            "parts_key_prefix": "test:smpp:part:",
            "submit_timeout_s": 15.0,  # the tests of timeouts set their own
            "reconnect_min_s": 0.05,
            **overrides,
        }
        provider = SmppSms(**options)
        made.append(provider)
        await provider.start()
        return provider

    yield make
    for provider in made:
        await provider.close()
    await client.aclose()


def outgoing(
    to: str = "+14155550123", body: str = "Payment overdue. Reply STOP to opt out."
) -> Outgoing:
    return Outgoing(message_id="01JSMPP", channel="sms", to=to, body=body)


async def test_refused_bind_is_a_provider_side_failure(make_provider: Any, smsc: Smsc) -> None:
    provider = await make_provider(password="wrong")
    with pytest.raises(PermanentProviderError) as refused:
        await provider.send(outgoing())
    assert refused.value.provider_side and "ESME_RINVPASWD" in refused.value.reason
    assert Status.RINVPASWD in smsc.binds and smsc.submits == []


async def test_submit_statuses_map_to_provider_errors(make_provider: Any, smsc: Smsc) -> None:
    provider = await make_provider(throttle_retry_s=7.0)
    smsc.answer_next(1, Status.RINVDSTADR)
    with pytest.raises(PermanentProviderError) as invalid:
        await provider.send(outgoing())
    assert invalid.value.contact_status == "invalid" and not invalid.value.provider_side
    smsc.answer_next(1, Status.RMSGQFUL)
    with pytest.raises(TransientProviderError) as full:
        await provider.send(outgoing())
    assert full.value.retry_after == 7.0
    result = await provider.send(outgoing())
    assert result.detail["parts"] == 1 and result.detail["encoding"] == "GSM-7"
    assert smsc.submits[0].fields["source_addr_ton"] == 5  # alphanumeric sender


async def test_a_later_part_is_retried_and_never_resends_the_first(
    make_provider: Any, smsc: Smsc
) -> None:
    provider = await make_provider()
    long_text = "Your account is overdue. " * 10  # 250 septets: two parts
    smsc.answer_next(1, Status.ROK)
    smsc.answer_next(1, Status.RTHROTTLED)
    result = await provider.send(outgoing(body=long_text))
    assert result.detail["parts"] == 2 and "incomplete" not in result.detail
    assert smsc.texts() == [long_text]
    smsc.answer_next(1, Status.ROK)
    smsc.answer_next(1, Status.RSUBMITFAIL)
    partial = await provider.send(outgoing(body=long_text))
    assert partial.detail["incomplete"] is True and len(partial.detail["part_refs"]) == 1
    assert partial.provider_ref == partial.detail["part_refs"][0]
    assert [s.concat.seq for s in smsc.submits if s.concat] == [1, 2, 1]


async def test_no_submit_resp_in_time_is_an_unknown_outcome_not_a_retry(
    make_provider: Any, smsc: Smsc
) -> None:
    # The SMSC may have accepted the submit: retrying could send the reminder twice.
    provider = await make_provider(submit_timeout_s=0.5)
    smsc.submit_delay_s = 5.0
    with pytest.raises(DeliveryUnknown, match="in time"):
        await provider.send(outgoing())


async def test_window_bounds_outstanding_submits(make_provider: Any, smsc: Smsc) -> None:
    provider = await make_provider(window=3)
    smsc.submit_delay_s = 0.05
    results = await asyncio.gather(*(provider.send(outgoing(body=f"m{i}")) for i in range(12)))
    assert len({r.provider_ref for r in results}) == 12
    assert smsc.max_outstanding == 3


async def test_unanswered_enquire_link_reconnects(make_provider: Any, smsc: Smsc) -> None:
    smsc.answer_enquire_link = False
    provider = await make_provider(enquire_link_s=0.3, submit_timeout_s=0.5)
    await smsc.wait_bound(sessions=2, timeout=5.0)
    smsc.answer_enquire_link = True
    await provider.esme.wait_bound(2.0)
    assert (await provider.send(outgoing())).provider_ref


async def test_receipts_and_replies_reach_the_sink_and_failures_are_redelivered(
    make_provider: Any, smsc: Smsc
) -> None:
    provider = await make_provider()
    sink = RecordingSink()
    provider.bind_sink(sink)
    assert await smsc.receipt("0004D2", "UNDELIV", "0B1", tlv_id="4D2", message_state=5) == 0
    [event] = sink.received
    assert (event.provider_ref, event.type.value, event.reject_reason) == ("4d2", "undelivered", "err:0B1")  # fmt: skip
    assert await smsc.mo("8613800138000", "退订") == 0
    [reply] = sink.replies
    assert (reply.from_addr, reply.body, reply.raw["data_coding"]) == ("+8613800138000", "退订", 8)
    sink.fail = True
    assert await smsc.receipt("4D2", "DELIVRD") == Status.RX_T_APPN
    assert await smsc.mo("14155550123", "STOP") == Status.RX_T_APPN


async def test_close_unbinds(make_provider: Any, smsc: Smsc) -> None:
    provider = await make_provider(submit_timeout_s=0.5)
    await provider.close()
    assert smsc.unbinds == 1
    with pytest.raises(TransientProviderError, match="not connected"):
        await provider.send(outgoing())
