"""Template-only SMS (Alibaba Cloud SendSms) against a local server that checks the signature as
the platform does; failover to the next provider when no approved template exists."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from gateway.settings import Settings
from tests.support import ApiClient, case_body, drain, free_port, reminder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aliyun"
KEY_ID, SECRET = "LTAI5tTestKey", "test-secret-0123456789"


def expected_signature(params: dict[str, str]) -> str:
    # Written from the platform's documentation, independently of channels/sms/aliyun.py.
    def enc(s: str) -> str:
        return quote(s, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    query = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params))
    string_to_sign = "POST&" + enc("/") + "&" + enc(query)
    return base64.b64encode(
        hmac.new((SECRET + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
    ).decode()


class FakeAliyun:
    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.answers: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        params = {k: str(v) for k, v in form.items()}
        signature = params.pop("Signature", "")
        if params.get("AccessKeyId") != KEY_ID or signature != expected_signature(params):
            return web.json_response(
                {"Code": "SignatureDoesNotMatch", "Message": "bad signature"}, status=400
            )
        self.received.append(params)
        answer = self.answers.pop(0) if self.answers else "send_ok"
        return web.json_response(json.loads((FIXTURES / f"{answer}.json").read_text()))


@pytest.fixture
def aliyun_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, aliyun_port: int) -> Settings:
    return settings.with_(
        sms_providers=["aliyun", "sandbox"],
        aliyun_base_url=f"http://127.0.0.1:{aliyun_port}",
        aliyun_access_key_id=KEY_ID,
        aliyun_access_key_secret=SECRET,
    )


@pytest.fixture
async def aliyun(aliyun_port: int, aiohttp_server: Any) -> FakeAliyun:
    fake = FakeAliyun()
    app = web.Application()
    app.router.add_post("/", fake.handle)
    await aiohttp_server(app, port=aliyun_port)
    return fake


CN_CASE = case_body(
    name="王小明", locale="zh-CN", currency="CNY", phone="+8613800138000", preset="TEST-OPEN"
)


async def test_sends_the_approved_template_with_its_parameters(
    api: ApiClient, runtime: Any, aliyun: FakeAliyun
) -> None:
    await api.put("/v1/cases/A-1", CN_CASE)
    accepted = await api.post("/v1/reminders", reminder("A-1", "sms"))
    await drain(runtime)
    message = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert message["state"] == "sent" and message["provider"] == "aliyun"
    assert message["provider_ref"] == "900619746936498440^0"
    [request] = aliyun.received
    assert request["TemplateCode"] == "SMS_000000001" and request["PhoneNumbers"] == "13800138000"
    assert request["OutId"] == accepted.body["id"]
    params = json.loads(request["TemplateParam"])
    assert params == {
        "name": "王小明",
        "tail": "1234",
        "days": "52",
        "amount": "¥420.50",
        "phone": "+1 800 555 0100",
    }
    # The full rendered text is still the evidence, and says what the parameters say.
    body = message["rendered"]["body"]
    assert all(value in body for value in params.values())
    assert message["rendered"]["provider_templates"]["aliyun"]["code"] == "SMS_000000001"


async def test_no_approved_template_fails_over_to_the_next_provider(
    api: ApiClient, runtime: Any, aliyun: FakeAliyun
) -> None:
    await api.put("/v1/cases/A-2", case_body())  # English: the pack has no aliyun template for it
    accepted = await api.post("/v1/reminders", reminder("A-2", "sms"))
    await drain(runtime)
    message = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert message["state"] == "sent" and message["provider"] == "sandbox"
    kinds = [h["kind"] for h in message["history"]]
    assert kinds[:3] == ["accepted", "provider_refused", "sent"]
    assert aliyun.received == []


async def test_flow_control_is_transient_and_a_bad_number_invalidates_the_contact(
    api: ApiClient, runtime: Any, aliyun: FakeAliyun
) -> None:
    await api.put("/v1/cases/A-3", CN_CASE)
    aliyun.answers = ["send_throttled", "send_bad_number"]
    first = await api.post("/v1/reminders", reminder("A-3", "sms", key="t1"))
    await drain(runtime)
    waiting = (await api.get(f"/v1/messages/{first.body['id']}")).body
    assert waiting["state"] == "retry_wait" and "BUSINESS_LIMIT_CONTROL" in waiting["state_reason"]
    second = await api.post("/v1/reminders", reminder("A-3", "sms", key="t2"))
    await drain(runtime)
    failed = (await api.get(f"/v1/messages/{second.body['id']}")).body
    assert failed["state"] == "failed" and failed["state_reason"].startswith("invalid_recipient")
    case = (await api.get("/v1/cases/A-3")).body
    assert {
        "channel": "sms",
        "address": "+8613800138000",
        "status": "invalid",
        "role": "debtor",
    } in case["contacts"]


async def test_unsigned_receipt_pushes_are_refused(api: ApiClient, aliyun: FakeAliyun) -> None:
    push = [
        {
            "phone_number": "13800138000",
            "success": True,
            "biz_id": "900619746936498440^0",
            "err_code": "DELIVERED",
        }
    ]
    resp = await api.post("/v1/providers/aliyun/receipts", push, key=None)
    assert resp.status == 401
