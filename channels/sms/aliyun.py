"""Alibaba Cloud SMS (dysmsapi `SendSms`), the template-only kind of platform Chinese banks use.

Such platforms deliver only pre-approved templates: a template code, a JSON object of parameters
and an approved signature (签名). The gateway's template pack names them per template
(`<key>.meta.yaml` → `provider_templates.aliyun`); the rendered full text is still kept on the
message as the evidence of what the debtor read.

Requests are signed with the RPC signature (HMAC-SHA1 over the sorted, percent-encoded query,
key = AccessKeySecret + "&"). The platform's receipt push is not signed, so this provider accepts
no receipts over HTTP: a callback claiming to come from it is refused rather than trusted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp
import phonenumbers

from channels.base import (
    Callback,
    Outgoing,
    PermanentProviderError,
    SendResult,
    SignatureInvalid,
    TransientProviderError,
)
from channels.events import DeliveryEvent, InboundMessage

API_VERSION = "2017-05-25"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the RPC signature wants it (space → %20, * → %2A, ~ kept)."""
    return quote(value, safe="~")


def sign(params: dict[str, str], secret: str, method: str = "POST") -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def phone_for_platform(e164: str) -> str:
    """Mainland numbers in national form; others as country code + number without '+'."""
    number = phonenumbers.parse(e164, None)
    if number.country_code == 86:
        return str(number.national_number)
    return f"00{number.country_code}{number.national_number}"


class AliyunSms:
    name: ClassVar[str] = "aliyun"
    channel: ClassVar[str] = "sms"
    # Error codes → what they say. Unlisted codes are a rejection of this message.
    RECIPIENT_INVALID = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT"})
    THROTTLED = {
        "isv.BUSINESS_LIMIT_CONTROL": 60.0,
        "Throttling": 5.0,
        "Throttling.User": 5.0,
        "isv.DAY_LIMIT_CONTROL": 3600.0,
    }
    PROVIDER_SIDE = frozenset(
        {
            "isv.SMS_TEMPLATE_ILLEGAL",
            "isv.SMS_SIGNATURE_ILLEGAL",
            "isv.AMOUNT_NOT_ENOUGH",
            "isv.ACCOUNT_ABNORMAL",
            "isv.ACCOUNT_NOT_EXISTS",
            "isv.OUT_OF_SERVICE",
            "InvalidAccessKeyId.NotFound",
            "SignatureDoesNotMatch",
            "isv.PRODUCT_UN_SUBSCRIPT",
            "isv.TEMPLATE_MISSING_PARAMETERS",
        }
    )

    def __init__(
        self,
        *,
        base_url: str,
        access_key_id: str,
        access_key_secret: str,
        region: str = "cn-hangzhou",
        timeout_s: float = 10.0,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.region = region
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=60),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def request_params(self, message: Outgoing, now: datetime) -> dict[str, str]:
        spec = message.provider_templates.get(self.name)
        if not spec:
            raise PermanentProviderError(
                "no approved aliyun template for this message", provider_side=True
            )
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            "PhoneNumbers": phone_for_platform(message.to),
            "SignName": spec.get("sign") or "",
            "TemplateCode": spec["code"],
            "TemplateParam": json.dumps(
                spec.get("params", {}), ensure_ascii=False, separators=(",", ":")
            ),
            "OutId": message.message_id,
        }
        params["Signature"] = sign(params, self.access_key_secret)
        return params

    async def send(self, message: Outgoing) -> SendResult:
        assert self._session is not None, "start() the provider first"
        params = self.request_params(message, datetime.now(UTC))
        try:
            async with self._session.post(self.base_url, data=params) as resp:
                status = resp.status
                body: dict[str, Any] = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise TransientProviderError(f"aliyun unreachable: {type(exc).__name__}") from None
        code = str(body.get("Code", ""))
        if status < 300 and code == "OK":
            return SendResult(str(body.get("BizId", "")), {"template_code": params["TemplateCode"]})
        return self._error(status, code)

    def _error(self, status: int, code: str) -> SendResult:
        if code in self.THROTTLED:
            raise TransientProviderError(
                f"aliyun throttled: {code}", retry_after=self.THROTTLED[code]
            )
        if code in self.RECIPIENT_INVALID:
            raise PermanentProviderError(f"invalid_recipient:{code}", contact_status="invalid")
        if code in self.PROVIDER_SIDE or status in (401, 403):
            raise PermanentProviderError(f"aliyun refused: {code or status}", provider_side=True)
        if status >= 500:
            raise TransientProviderError(f"aliyun {status}")
        raise PermanentProviderError(f"rejected:{code or status}")

    def verify(self, callback: Callback) -> None:
        raise SignatureInvalid("aliyun receipt pushes are unsigned and are not accepted")

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]:
        return []

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]:
        return []
