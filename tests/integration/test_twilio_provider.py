"""TwilioSms against a small local server speaking Twilio's Messages resource."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from channels.base import (
    DeliveryUnknown,
    Outgoing,
    PermanentProviderError,
    TransientProviderError,
)
from channels.sms.twilio import TwilioSms
from tests.support import free_port

SID = "ACdeadbeefdeadbeefdeadbeefdeadbeef"
TOKEN = "s3cr3t-auth-token"
SENDER = "+15005550006"
PUBLIC = "https://gateway.example.com"
Behaviour = Callable[[dict[str, str]], web.Response | Awaitable[web.Response]]


class FakeTwilio:
    """Checks basic auth and the form fields like Twilio does, then answers as `behaviour` says."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.peers: set[Any] = set()
        self.behaviour: Behaviour = self.created
        self.app = web.Application()
        self.app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.messages)

    def created(self, form: dict[str, str]) -> web.Response:
        sid = f"SM{len(self.received):032x}"
        return web.json_response(
            {
                "sid": sid,
                "status": "queued",
                "num_segments": "1",
                "to": form["To"],
                "from": form["From"],
            },
            status=201,
        )

    async def messages(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if request.match_info["sid"] != SID or request.headers.get("Authorization") != expected:
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "status": 401}, status=401
            )
        if request.content_type != "application/x-www-form-urlencoded":
            return web.json_response(
                {"code": 20001, "message": "form expected", "status": 400}, status=400
            )
        form = {k: str(v) for k, v in (await request.post()).items()}
        missing = [f for f in ("To", "From", "Body") if not form.get(f)]
        if missing:
            return web.json_response(
                {"code": 21604, "message": f"{missing[0]} is required", "status": 400}, status=400
            )
        self.received.append(form)
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        result = self.behaviour(form)
        return await result if asyncio.iscoroutine(result) else result  # type: ignore[return-value]


@pytest.fixture
async def fake(aiohttp_server: Any) -> tuple[FakeTwilio, Any]:
    twilio = FakeTwilio()
    server = await aiohttp_server(twilio.app)
    return twilio, server


@pytest.fixture
async def provider(fake: tuple[FakeTwilio, Any]) -> Any:
    _, server = fake
    sms = TwilioSms(
        base_url=str(server.make_url("")),
        account_sid=SID,
        auth_token=TOKEN,
        sender=SENDER,
        public_url=PUBLIC,
        # A production-like timeout: a loaded machine must not turn a plain answer into an
        # unknown outcome. The timeout test makes its own provider with a short one.
        timeout_s=15.0,
    )
    await sms.start()
    yield sms
    await sms.close()


def outgoing(body: str = "Your payment of $120.00 is overdue. Reply STOP to opt out.") -> Outgoing:
    return Outgoing(message_id="01JTEST", channel="sms", to="+14155550123", body=body)


async def test_send_posts_the_form_with_basic_auth_and_returns_the_sid(
    fake: Any, provider: TwilioSms
) -> None:
    twilio, _ = fake
    result = await provider.send(outgoing())
    assert result.provider_ref.startswith("SM")
    assert result.detail == {"status": "queued", "segments": 1}
    [form] = twilio.received
    assert form == {
        "To": "+14155550123",
        "From": SENDER,
        "Body": "Your payment of $120.00 is overdue. Reply STOP to opt out.",
        "StatusCallback": f"{PUBLIC}/v1/providers/twilio/receipts",
    }


async def test_many_sends_reuse_the_pool(fake: Any) -> None:
    twilio, server = fake
    # A production-like timeout: 200 sends at once on a loaded machine must not be cut short.
    provider = TwilioSms(
        base_url=str(server.make_url("")),
        account_sid=SID,
        auth_token=TOKEN,
        sender=SENDER,
        public_url=PUBLIC,
        timeout_s=15.0,
    )
    await provider.start()
    try:
        await _many_sends(twilio, provider)
    finally:
        await provider.close()


async def _many_sends(twilio: Any, provider: TwilioSms) -> None:
    results = await asyncio.gather(*(provider.send(outgoing(f"message {i}")) for i in range(200)))
    assert len({r.provider_ref for r in results}) == 200
    assert sorted(f["Body"] for f in twilio.received) == sorted(f"message {i}" for i in range(200))
    # At most the pool's size of connections, and later sends ride on them (keep-alive).
    opened = set(twilio.peers)
    assert len(opened) <= 100
    for i in range(20):
        await provider.send(outgoing(f"again {i}"))
    assert twilio.peers == opened


async def test_wrong_credentials_are_a_provider_side_failure_not_the_messages_fault(
    fake: Any,
) -> None:
    _, server = fake
    sms = TwilioSms(
        base_url=str(server.make_url("")),
        account_sid=SID,
        auth_token="wrong",
        sender=SENDER,
        public_url=PUBLIC,
    )
    await sms.start()
    try:
        with pytest.raises(PermanentProviderError, match="20003") as caught:
            await sms.send(outgoing())
        assert caught.value.provider_side and caught.value.contact_status is None
    finally:
        await sms.close()


async def test_429_is_transient_with_retry_after(fake: Any, provider: TwilioSms) -> None:
    twilio, _ = fake
    twilio.behaviour = lambda form: web.json_response(
        {"code": 20429, "message": "Too Many Requests", "status": 429},
        status=429,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(TransientProviderError) as caught:
        await provider.send(outgoing())
    assert caught.value.retry_after == 7.0


async def test_500_is_transient(fake: Any, provider: TwilioSms) -> None:
    twilio, _ = fake
    twilio.behaviour = lambda form: web.Response(status=500, text="internal error")
    with pytest.raises(TransientProviderError, match="500") as caught:
        await provider.send(outgoing())
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (21211, "invalid_recipient:21211"),
        (21614, "invalid_recipient:21614"),
        (21610, "unsubscribed:21610"),
        (21408, "unreachable:21408"),
        (21612, "unreachable:21612"),
        (21617, "rejected:21617"),
    ],
)
async def test_4xx_with_an_error_code_is_permanent(
    fake: Any, provider: TwilioSms, code: int, reason: str
) -> None:
    twilio, _ = fake
    twilio.behaviour = lambda form: web.json_response(
        {
            "code": code,
            "message": "The 'To' number is not a valid phone number.",
            "status": 400,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
        },
        status=400,
    )
    with pytest.raises(PermanentProviderError) as caught:
        await provider.send(outgoing())
    assert caught.value.reason == reason
    expected = {"invalid_recipient": "invalid", "unsubscribed": "opted_out"}.get(
        reason.split(":")[0]
    )
    assert caught.value.contact_status == expected and not caught.value.provider_side


async def test_a_timeout_after_sending_is_an_unknown_outcome_not_a_retry(fake: Any) -> None:
    # Twilio may have accepted the message: retrying could send the debtor a second reminder.
    twilio, server = fake
    never = asyncio.Event()  # the answer never comes, however slow the machine

    async def silent(form: dict[str, str]) -> web.Response:
        await never.wait()
        return twilio.created(form)

    twilio.behaviour = silent
    sms = TwilioSms(
        base_url=str(server.make_url("")),
        account_sid=SID,
        auth_token=TOKEN,
        sender=SENDER,
        public_url=PUBLIC,
        timeout_s=0.5,
    )
    await sms.start()
    try:
        with pytest.raises(DeliveryUnknown, match="timeout"):
            await sms.send(outgoing())
    finally:
        never.set()
        await sms.close()
    assert len(twilio.received) == 1


async def test_a_connection_lost_mid_request_is_an_unknown_outcome() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request arrived...
        writer.close()  # ...and no answer ever comes

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sms = TwilioSms(
        base_url=f"http://127.0.0.1:{port}",
        account_sid=SID,
        auth_token=TOKEN,
        sender=SENDER,
        public_url=PUBLIC,
    )
    await sms.start()
    try:
        with pytest.raises(DeliveryUnknown, match="ServerDisconnectedError"):
            await sms.send(outgoing())
    finally:
        await sms.close()
        server.close()
        await server.wait_closed()


async def test_connection_refused_is_transient() -> None:
    port = free_port()  # reserved, so nothing else listens on it either
    sms = TwilioSms(
        base_url=f"http://127.0.0.1:{port}",
        account_sid=SID,
        auth_token=TOKEN,
        sender=SENDER,
        public_url=PUBLIC,
    )
    await sms.start()
    try:
        with pytest.raises(TransientProviderError, match="not reachable"):
            await sms.send(outgoing())
    finally:
        await sms.close()
