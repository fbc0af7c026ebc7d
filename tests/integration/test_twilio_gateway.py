"""The Twilio-compatible provider through the whole gateway: a local server implements the REST
contract and signs its callbacks with the official `twilio` package's validator."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from twilio.request_validator import RequestValidator

from gateway.settings import Settings
from gateway.store.tables import replies
from tests.conftest import at
from tests.support import ApiClient, case_body, drain, free_port, reminder

SID, TOKEN = "AC" + "1" * 32, "twilio-test-token"


class FakeTwilio:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.error: dict[str, Any] | None = None

    async def create(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"].startswith("Basic ")
        form = {k: str(v) for k, v in (await request.post()).items()}
        if self.error is not None:
            return web.json_response(self.error, status=400)
        sid = f"SM{len(self.sent):032d}"
        self.sent.append({**form, "sid": sid})
        return web.json_response({"sid": sid, "status": "queued", "num_segments": "1"}, status=201)

    async def callback(self, url: str, params: dict[str, str], *, token: str = TOKEN) -> int:
        """POST a callback signed as Twilio signs it (URL + sorted params, HMAC-SHA1, base64)."""
        signature = RequestValidator(token).compute_signature(url, params)
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=params, headers={"X-Twilio-Signature": signature}) as resp,
        ):
            return resp.status


@pytest.fixture
def twilio_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, twilio_port: int) -> Settings:
    return settings.with_(
        sms_providers=["twilio"],
        twilio_base_url=f"http://127.0.0.1:{twilio_port}",
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
    )


@pytest.fixture
async def twilio(twilio_port: int, aiohttp_server: Any) -> FakeTwilio:
    fake = FakeTwilio()
    app = web.Application()
    app.router.add_post(f"/2010-04-01/Accounts/{SID}/Messages.json", fake.create)
    await aiohttp_server(app, port=twilio_port)
    return fake


async def test_status_callbacks_signed_by_twilio_move_the_message(
    api: ApiClient, runtime: Any, twilio: FakeTwilio
) -> None:
    await api.put("/v1/cases/T-1", case_body())
    accepted = await api.post("/v1/reminders", reminder("T-1", "sms"))
    await drain(runtime)
    [sent] = twilio.sent
    assert sent["To"] == "+14155550123" and sent["From"] == runtime.settings.sms_sender
    callback_url = sent["StatusCallback"]
    assert callback_url == f"{runtime.settings.public_url}/v1/providers/twilio/receipts"

    forged = await twilio.callback(
        callback_url,
        {"MessageSid": sent["sid"], "MessageStatus": "delivered"},
        token="not-the-token",
    )
    assert forged == 401
    assert (await api.get(f"/v1/messages/{accepted.body['id']}")).body["state"] == "sent"

    for status in ("sent", "delivered"):
        assert (
            await twilio.callback(
                callback_url,
                {"MessageSid": sent["sid"], "MessageStatus": status, "AccountSid": SID},
            )
            == 200
        )
    message = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert message["state"] == "delivered" and [e["type"] for e in message["events"]] == [
        "sent",
        "delivered",
    ]
    kinds = [e["kind"] for e in (await api.get("/v1/cases/T-1/timeline")).body["entries"]]
    assert kinds[-2:] == ["sent", "delivered"]


async def test_undelivered_callback_carries_the_carrier_reason(
    api: ApiClient, runtime: Any, twilio: FakeTwilio
) -> None:
    await api.put("/v1/cases/T-2", case_body())
    accepted = await api.post("/v1/reminders", reminder("T-2", "sms"))
    await drain(runtime)
    [sent] = twilio.sent
    status = await twilio.callback(
        sent["StatusCallback"],
        {"MessageSid": sent["sid"], "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )
    assert status == 200
    message = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert (
        message["state"] == "undelivered"
        and message["events"][-1]["reject_reason"] == "unreachable"
    )


async def test_unsubscribed_number_is_opted_out(
    api: ApiClient, runtime: Any, twilio: FakeTwilio
) -> None:
    await api.put("/v1/cases/T-3", case_body())
    twilio.error = {
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "status": 400,
    }
    accepted = await api.post("/v1/reminders", reminder("T-3", "sms"))
    await drain(runtime)
    message = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert message["state"] == "failed" and message["state_reason"] == "unsubscribed:21610"
    case = (await api.get("/v1/cases/T-3")).body
    assert {
        "channel": "sms",
        "address": "+14155550123",
        "status": "opted_out",
        "role": "debtor",
    } in case["contacts"]
    assert "contact_opted_out" in [
        e["kind"] for e in (await api.get("/v1/cases/T-3/timeline")).body["entries"]
    ]


async def test_inbound_sms_signed_by_twilio_lands_on_the_case(
    api: ApiClient, twilio: FakeTwilio
) -> None:
    await api.put("/v1/cases/T-4", case_body(phone="+14155550177"))
    url = f"{api.settings.public_url}/v1/providers/twilio/inbound"
    params = {
        "MessageSid": "SM" + "9" * 32,
        "From": "+14155550177",
        "To": "+15005550006",
        "Body": "STOP",
        "AccountSid": SID,
    }
    assert await twilio.callback(url, params) == 200
    entries = (await api.get("/v1/cases/T-4/timeline")).body["entries"]
    [received] = [e for e in entries if e["kind"] == "reply_received"]
    assert received["data"]["body"] == "STOP" and received["data"]["category"] == "opt_out_channel"
    assert await twilio.callback(url, params, token="forged") == 401


async def test_a_replayed_inbound_callback_is_one_reply_with_one_answer(
    api: ApiClient, runtime: Any, clock: Any, twilio: FakeTwilio
) -> None:
    """Twilio retries a callback it saw no answer to, and a captured one can be posted again: the
    same MessageSid is the same reply, answered 200 so the provider stops, and acted on once."""
    clock.set(at("2026-03-09T15:00:00+00:00"))
    await api.put("/v1/cases/T-5", case_body(phone="+14155550178"))
    url = f"{api.settings.public_url}/v1/providers/twilio/inbound"
    params = {
        "MessageSid": "SM" + "7" * 32,
        "From": "+14155550178",
        "To": "+15005550006",
        "Body": "STOP",
        "AccountSid": SID,
    }
    assert await twilio.callback(url, params) == 200
    await drain(runtime)
    confirmations = len(twilio.sent)
    assert confirmations == 1, "the opt-out is confirmed once"

    # Past the confirmation's own five-minute window: only the reply's identity can tell.
    clock.advance(hours=2)
    assert await twilio.callback(url, params) == 200
    await drain(runtime)
    assert len(twilio.sent) == confirmations, "no second confirmation for a replayed STOP"
    async with runtime.engine.connect() as conn:
        stored = (await conn.execute(sa.select(replies.c.provider_ref))).scalars().all()
    assert stored == [params["MessageSid"]]
    entries = (await api.get("/v1/cases/T-5/timeline")).body["entries"]
    assert [e["kind"] for e in entries].count("reply_received") == 1

    # Another text from the same debtor is a reply of its own.
    assert await twilio.callback(url, {**params, "MessageSid": "SM" + "8" * 32}) == 200
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(replies))).scalar() == 2
