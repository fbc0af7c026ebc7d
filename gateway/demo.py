"""`reminder-gateway demo`: seed an English and a Chinese case, remind on every channel, show timelines.

It talks to a running gateway over HTTP, exactly as an upstream system would.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from gateway.settings import Settings
from gateway.setup import create_key
from gateway.store.keys import SCOPES

CASES: dict[str, dict[str, Any]] = {
    "DEMO-EN-1": {
        "debtor": {
            "name": "Jane Doe",
            "first_name": "Jane",
            "locale": "en",
            "timezone": "America/New_York",
            "postal_address": {
                "lines": ["12 Main St", "Springfield, IL 62701"],
                "country": "US",
                "postal_code": "62701",
            },
        },
        "preset": "US-RegF",
        "collector_role": "third_party",
        "debt": {
            "amount": "420.50",
            "currency": "USD",
            "due_date": "2026-10-01",
            "days_past_due": 52,
            "account_number": "4111 1111 1111 1234",
        },
        "contacts": [
            {"channel": "sms", "address": "+14155550123"},
            {"channel": "email", "address": "jane.doe@example.com"},
        ],
    },
    "DEMO-ZH-1": {
        "debtor": {
            "name": "王小明",
            "locale": "zh-CN",
            "timezone": "Asia/Shanghai",
            "postal_address": {
                "lines": ["上海市浦东新区世纪大道100号", "200120"],
                "country": "CN",
                "postal_code": "200120",
            },
        },
        "preset": "CN",
        "collector_role": "first_party",
        "debt": {
            "amount": "3680.00",
            "currency": "CNY",
            "due_date": "2026-10-15",
            "days_past_due": 38,
            "account_number": "6222 0000 0000 5678",
        },
        "contacts": [
            {"channel": "sms", "address": "+8613800138000"},
            {"channel": "email", "address": "wang.xiaoming@example.cn"},
        ],
    },
}
# Deferred counts as settled here: the policy has decided, and the timeline says until when.
SETTLED = {
    "deferred",
    "sent",
    "delivered",
    "undelivered",
    "bounced",
    "returned",
    "suppressed",
    "failed",
    "expired",
    "cancelled",
    "unknown",
}


async def run_demo(settings: Settings, *, url: str | None = None, key: str | None = None) -> int:
    base = (url or settings.public_url).rstrip("/")
    key = (
        key or settings.dev_api_key or await create_key(settings, scopes=list(SCOPES), name="demo")
    )
    headers = {"Authorization": f"Bearer {key}"}
    run = int(time.time())
    async with aiohttp.ClientSession(headers=headers) as http:
        ids: list[str] = []
        for case_ref, body in CASES.items():
            async with http.put(f"{base}/v1/cases/{case_ref}", json=body) as resp:
                if resp.status >= 300:
                    print(f"{case_ref}: {resp.status} {await resp.text()}")
                    return 1
            items = [
                {
                    "case_ref": case_ref,
                    "template": "first_notice",
                    "channel": channel,
                    "idempotency_key": f"demo-{run}-{case_ref}-{channel}",
                }
                for channel in ("sms", "email", "letter")
            ]
            async with http.post(f"{base}/v1/reminders/batch", json={"items": items}) as resp:
                result = await resp.json()
                ids += [r["id"] for r in result["results"] if r.get("id")]
        sms_ids = set(ids[0::3])  # each case's batch is sms, email, letter
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = {}
            for message_id in ids:
                async with http.get(f"{base}/v1/messages/{message_id}") as resp:
                    states[message_id] = (await resp.json())["state"]
            # Done when everything is settled and every SMS has its delivery receipt.
            if all(s in SETTLED for s in states.values()) and all(
                states[i] != "sent" for i in sms_ids
            ):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.5)
        for case_ref in CASES:
            async with http.get(f"{base}/v1/cases/{case_ref}/timeline") as resp:
                timeline = await resp.json()
            print(f"\n== {case_ref}")
            for entry in timeline["entries"]:
                detail = {k: v for k, v in entry["data"].items() if v not in (None, [], {})}
                print(
                    f"  {entry['at'][:19]}  {entry['kind']:<16} {entry['actor']:<18} {entry['message_id'] or '':<28} "
                    f"{json.dumps(detail, ensure_ascii=False)}"
                )
    print(f"\nletters: {settings.letters_dir}   caught mail: GET {base}/v1/sandbox/email")
    return 0
