"""The evidence export: `GET /v1/cases/{case_ref}/export` and `reminder-gateway export`, one JSON
line per record — messages with their content, template version and policy decision, receipts,
replies, timeline entries with their chain digests — in time order."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from gateway.settings import Settings
from tests.support import (
    ApiClient,
    case_body,
    drain,
    release_receipts,
    reminder,
    settings_env,
    sms_reply,
)


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


async def _touched_case(api: ApiClient, runtime: Any, ref: str) -> tuple[str, str]:
    """A case that got a reminder sent, its delivery receipts, a reply promising to pay, then a
    dispute, and a second reminder the dispute suppresses: (sent id, suppressed id)."""
    await api.put(f"/v1/cases/{ref}", case_body())
    sent = (await api.post("/v1/reminders", reminder(ref, "sms"))).body["id"]
    await drain(runtime)
    await release_receipts(runtime)
    await sms_reply(api, "I will pay on Friday")
    await api.post(f"/v1/cases/{ref}/events", {"type": "dispute"})
    held = (await api.post("/v1/reminders", reminder(ref, "email"))).body["id"]
    await drain(runtime)
    await release_receipts(runtime)  # the acknowledgement's receipts, answered before we read
    return sent, held


async def test_a_case_export_holds_every_touch_in_time_order(api: ApiClient, runtime: Any) -> None:
    sent_id, held_id = await _touched_case(api, runtime, "X-1")
    resp = await api.get("/v1/cases/X-1/export")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    records = lines(resp.body)
    assert {r["case_ref"] for r in records} == {"X-1"}
    assert records[0]["type"] == "case" and records[-1]["type"] == "chain"
    times = [r["at"] for r in records]
    assert times == sorted(times), [
        (a["type"], a.get("kind"), a["at"], b["type"], b.get("kind"), b["at"])
        for a, b in zip(records, records[1:], strict=False)
        if a["at"] > b["at"]
    ]

    messages = {r["message_id"]: r for r in records if r["type"] == "message"}
    sent = messages[sent_id]
    assert sent["template"] == {
        "id": sent["template"]["id"],
        "key": "first_notice",
        "channel": "sms",
        "locale": "en",
        "version": 1,
    }
    assert "Jane" in sent["content"]["body"] and sent["content"]["parts"] >= 1
    assert sent["decision"]["verdict"] == "allow"
    assert (sent["decision"]["preset"], sent["decision"]["preset_version"]) == ("TEST-OPEN", 2)
    assert sent["to"] == "+14155550123" and sent["state"] == "delivered"

    receipts = [r for r in records if r["type"] == "receipt" and r["message_id"] == sent_id]
    assert [r["event"] for r in receipts] == ["sent", "delivered"]
    assert all(r["raw"] and r["provider"] == "sandbox" for r in receipts)

    [reply] = [r for r in records if r["type"] == "reply"]
    assert reply["body"] == "I will pay on Friday"
    assert reply["category"] == "promise_to_pay" and reply["classifier_version"]
    assert reply["effects"]

    # The decision that stopped the second reminder: its rule, preset and version.
    assert messages[held_id]["decision"] is None and messages[held_id]["state"] == "suppressed"
    [stopped] = [
        r
        for r in records
        if r["type"] == "timeline" and r["kind"] == "suppressed" and r["message_id"] == held_id
    ]
    assert stopped["data"]["rule"] == "hold.dispute"
    assert (stopped["data"]["preset"], stopped["data"]["preset_version"]) == ("TEST-OPEN", 2)

    entries = [r for r in records if r["type"] == "timeline"]
    kinds = [e["kind"] for e in entries]
    for kind in ("case_created", "accepted", "sent", "delivered", "reply_received"):
        assert kind in kinds
    # Every entry sealed, each linking to the one before it.
    assert entries[0]["prev_digest"] == ""
    assert all(e["digest"] for e in entries)
    assert [e["prev_digest"] for e in entries[1:]] == [e["digest"] for e in entries[:-1]]
    chain = records[-1]
    assert chain["verified"] is True and chain["problems"] == [] and chain["unsealed"] == 0
    assert (chain["count"], chain["digest"], chain["entry"]) == (
        len(entries),
        entries[-1]["digest"],
        entries[-1]["entry"],
    )


async def test_an_unknown_case_and_another_tenants_case_are_404(
    api: ApiClient, settings: Settings
) -> None:
    from gateway.setup import create_key

    await api.put("/v1/cases/X-2", case_body())
    unknown = await api.get("/v1/cases/NOPE/export")
    assert unknown.status == 404 and unknown.body["error"]["code"] == "unknown_case"
    other = await create_key(settings, scopes=["cases:read"], name="other", tenant="other")
    theirs = await api.get("/v1/cases/X-2/export", key=other)
    assert theirs.status == 404 and theirs.body["error"]["code"] == "unknown_case"
    writer = await create_key(settings, scopes=["cases:write"], name="writer")
    assert (await api.get("/v1/cases/X-2/export", key=writer)).status == 403


def export_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "export", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
async def test_the_cli_exports_one_case_or_every_case_since_a_date(
    api: ApiClient, runtime: Any, settings: Settings, clock: Any
) -> None:
    sent_id, _ = await _touched_case(api, runtime, "X-3")
    await api.put("/v1/cases/X-4", case_body(phone="+14155550199", email=None))

    by_case = export_cli(settings, "--case", "X-3")
    assert by_case.returncode == 0, by_case.stderr
    records = lines(by_case.stdout)
    assert {r["case_ref"] for r in records} == {"X-3"}
    assert {r["type"] for r in records} == {
        "case",
        "message",
        "receipt",
        "reply",
        "timeline",
        "chain",
    }
    assert sent_id in {r.get("message_id") for r in records if r["type"] == "message"}
    assert records[-1]["verified"] is True

    out = settings.data_dir / "since.jsonl"
    since = (clock() - timedelta(days=1)).date().isoformat()
    by_date = export_cli(settings, "--since", since, "--out", str(out))
    assert by_date.returncode == 0, by_date.stderr
    records = lines(out.read_text())
    assert {r["case_ref"] for r in records} == {"X-3", "X-4"}
    body = [r for r in records if r["type"] != "chain"]
    assert [r["at"] for r in body] == sorted(r["at"] for r in body)
    assert {r["case_ref"] for r in records if r["type"] == "chain"} == {"X-3", "X-4"}

    later = (clock() + timedelta(days=1)).isoformat()
    assert lines(export_cli(settings, "--since", later).stdout) == []
    missing = export_cli(settings, "--case", "NOPE")
    assert missing.returncode == 1 and "no case 'NOPE'" in missing.stderr
    assert export_cli(settings, "--since", "yesterday").returncode == 2
