"""Escalation on receipts through the API, the injectable clock and the scheduler's pump: a
cadence step whose SMS comes back undelivered, or has no delivery receipt within its watch, falls
back to email; a bounced email falls back to a letter; a returned letter marks the address
invalid and the case as needing an operator. Each fallback is a new message through intake and
the contact policy, linked to its step, on the timeline — and made once however often the pump
runs (SQLite and PostgreSQL). Receipts are never raced: the SMS sandbox holds them until the test
releases them, bounces are delivered to the gateway's receiver, letters' events posted signed."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.services.unsubscribe import unsubscribe_token
from gateway.services.webhook_delivery import Deliverer
from gateway.settings import Settings
from gateway.store.tables import cadence_fallbacks, cadence_steps, messages
from tests.conftest import at
from tests.integration.test_email_returns import deliver, fixture
from tests.lob import FakeLob, WithLob, post_event
from tests.support import (
    ApiClient,
    case_body,
    drain,
    release_receipts,
    reminder,
    scheduler_tick,
)
from tests.webhook_receiver import Receiver

T0 = at("2026-10-02T15:00:00+00:00")
UNREACHABLE = "+14155550000"  # the sandbox reports numbers ending in 0000 undelivered

# An operator's cadence with the whole chain: an SMS, watched for 2 hours, then an email, watched
# for a day, then a letter; the next step three days after the first.
CHAIN = """
name: escalating
steps:
  - name: first-sms
    after_start: 0d
    channel: sms
    template: soft_reminder
    fallback:
      channel: email
      template: payment_options
      after: 2h
      fallback: {channel: letter, template: arrears_notice, after: 1d}
  - name: later-sms
    after_previous: 3d
    channel: sms
    template: soft_reminder
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    folder = tmp_path / "cadences"
    folder.mkdir()
    (folder / "escalating.yaml").write_text(CHAIN)
    return settings.with_(cadences_dir=folder)


async def _start(api: ApiClient, runtime: Any, case_ref: str, **case: Any) -> dict[str, Any]:
    """A case on the escalating cadence, its first SMS sent; the step as the API shows it."""
    assert (await api.put(f"/v1/cases/{case_ref}", case_body(**case))).status == 201
    started = await api.put(f"/v1/cases/{case_ref}/cadence", {"cadence": "escalating"})
    assert started.status == 200, started.body
    await scheduler_tick(runtime)
    step = await _step(api, case_ref)
    assert step["state"] == "sent" and step["fallbacks"] == []
    return step


async def _step(api: ApiClient, case_ref: str, name: str = "first-sms") -> dict[str, Any]:
    shown = (await api.get(f"/v1/cases/{case_ref}/cadence")).body
    return next(s for s in shown["steps"] if s["name"] == name)


async def _entries(api: ApiClient, case_ref: str, kind: str) -> list[dict[str, Any]]:
    entries = (await api.get(f"/v1/cases/{case_ref}/timeline")).body["entries"]
    return [e for e in entries if e["kind"] == kind]


async def _count(runtime: Any, table: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar())


async def test_an_undelivered_sms_falls_back_to_email_linked_and_on_the_timeline(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Path
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        hook = await api.post("/v1/webhooks", {"url": receiver.url, "events": ["cadence.step"]})
        receiver.secret = hook.body["secret"]
        fallback = await _undelivered_sms_falls_back(api, runtime, clock)
        deliverer = Deliverer(runtime)
        try:
            while await deliverer():
                pass
        finally:
            await deliverer.close()
    finally:
        await receiver.stop()
    # Upstream is told, signed, with why and the new message.
    assert receiver.refused == []
    [told] = [
        e["data"] for e in receiver.of_type("cadence.step") if "fallback" in e["data"]["kind"]
    ]
    assert told["kind"] == "step_fallback" and told["reason"] == "sms undelivered: unreachable"
    assert told["message_id"] == fallback["message_id"] and told["step"] == "first-sms"


async def _undelivered_sms_falls_back(api: ApiClient, runtime: Any, clock: Any) -> dict[str, Any]:
    clock.set(T0)
    sms = await _start(api, runtime, "CE-1", phone=UNREACHABLE)
    await release_receipts(runtime)  # the carrier says: undelivered
    assert (await api.get(f"/v1/messages/{sms['message_id']}")).body["state"] == "undelivered"

    clock.advance(seconds=5)  # well within the 2h watch: the receipt is what falls back
    await scheduler_tick(runtime)
    step = await _step(api, "CE-1")
    assert step["state"] == "sent" and step["message_id"] == sms["message_id"]
    [fallback] = step["fallbacks"]
    assert (fallback["attempt"], fallback["channel"], fallback["template"]) == (
        1,
        "email",
        "payment_options",
    )
    assert fallback["reason"] == "sms undelivered: unreachable"
    assert fallback["replaces"] == sms["message_id"] and fallback["state"] == "sent"
    mails = (await api.get("/v1/sandbox/email")).body["messages"]
    assert len(mails) == 1 and fallback["message_id"] in str(mails[0])

    # The new message names the step it stands in for.
    async with runtime.engine.connect() as conn:
        data = (
            await conn.execute(
                sa.select(messages.c.data).where(messages.c.id == fallback["message_id"])
            )
        ).scalar_one()
    assert data == {
        "cadence": "escalating",
        "step": "first-sms",
        "fallback": 1,
        "replaces": sms["message_id"],
    }
    [entry] = await _entries(api, "CE-1", "cadence_step_fallback")
    assert entry["message_id"] == fallback["message_id"]
    assert entry["data"]["reason"] == "sms undelivered: unreachable"
    assert (entry["data"]["step"], entry["data"]["channel"]) == ("first-sms", "email")
    # The next tick stores the next step's due time counted from the fallback, three days on,
    # not from the SMS.
    await scheduler_tick(runtime)
    later = await _step(api, "CE-1", "later-sms")
    assert later["state"] == "pending" and later["due_at"].startswith("2026-10-05T15:00:05")
    return dict(fallback)


async def test_an_sms_with_no_receipt_within_its_watch_falls_back_then(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Path
) -> None:
    clock.set(T0)
    await _start(api, runtime, "CE-2")
    clock.advance(minutes=1)  # the pump sees the SMS sent: it watches it from then
    await scheduler_tick(runtime)
    async with runtime.engine.connect() as conn:
        [check_at] = (
            await conn.execute(
                sa.select(cadence_steps.c.check_at).where(cadence_steps.c.name == "first-sms")
            )
        ).scalars()
    # The pump looks again at the end of the watch, from the database: a Redis flush loses it not.
    assert check_at == at("2026-10-02T17:00:00+00:00")
    runtime.redis.flushdb()

    clock.set(at("2026-10-02T16:59:00+00:00"))
    await scheduler_tick(runtime)
    assert (await _step(api, "CE-2"))["fallbacks"] == []
    clock.set(at("2026-10-02T17:00:30+00:00"))
    await scheduler_tick(runtime)
    [fallback] = (await _step(api, "CE-2"))["fallbacks"]
    assert fallback["channel"] == "email" and fallback["state"] == "sent"
    assert fallback["reason"] == "sms not delivered within 2h: no delivery receipt"
    # A delivery receipt that turns up late changes nothing more.
    await release_receipts(runtime)
    clock.advance(minutes=5)
    await scheduler_tick(runtime)
    assert len((await _step(api, "CE-2"))["fallbacks"]) == 1


async def test_a_delivered_sms_does_not_fall_back(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Path
) -> None:
    clock.set(T0)
    await _start(api, runtime, "CE-3")
    await release_receipts(runtime)
    clock.advance(hours=3)
    await scheduler_tick(runtime)
    assert (await _step(api, "CE-3"))["fallbacks"] == []
    assert (await api.get("/v1/sandbox/email")).body["messages"] == []
    async with runtime.engine.connect() as conn:
        checks = (
            await conn.execute(
                sa.select(cadence_steps.c.check_at).where(cadence_steps.c.name == "first-sms")
            )
        ).scalars()
        assert list(checks) == [None], "nothing more to watch"


async def test_a_bounced_fallback_email_falls_back_to_a_letter(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Path, receiver: int
) -> None:
    clock.set(T0)
    await _start(api, runtime, "CE-4", phone=UNREACHABLE)
    await release_receipts(runtime)
    await scheduler_tick(runtime)
    [first] = (await _step(api, "CE-4"))["fallbacks"]
    [path] = [p for p in smtp_server.glob("*.eml") if first["message_id"] in p.read_text()]
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    sent = {
        "verp": str(mail["X-Envelope-From"]),
        "message_id": str(mail["Message-ID"]).strip("<>"),
        "reply_to": "",
    }
    await deliver(receiver, fixture("postfix_5.1.1.eml", sent), sent["verp"])

    clock.advance(minutes=1)
    await scheduler_tick(runtime)
    first, second = (await _step(api, "CE-4"))["fallbacks"]
    assert first["state"] == "bounced"
    assert (second["attempt"], second["channel"], second["template"]) == (
        2,
        "letter",
        "arrears_notice",
    )
    assert second["reason"] == "email bounced: invalid"
    assert second["replaces"] == first["message_id"] and second["state"] == "sent"
    reasons = [e["data"]["reason"] for e in await _entries(api, "CE-4", "cadence_step_fallback")]
    assert reasons == ["sms undelivered: unreachable", "email bounced: invalid"]


async def test_a_fallback_meets_the_contact_policy(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Path
) -> None:
    clock.set(T0)
    await api.put("/v1/cases/CE-5", case_body(phone=UNREACHABLE))
    # The debtor unsubscribed from email (one click in an earlier email).
    earlier = await api.post("/v1/reminders", reminder("CE-5", "email"))
    await drain(runtime)
    token = unsubscribe_token(runtime.settings.secret, earlier.body["id"])
    assert (await api.post(f"/v1/unsubscribe/{token}", check=False)).status == 200
    await api.put("/v1/cases/CE-5/cadence", {"cadence": "escalating"})
    await scheduler_tick(runtime)
    await release_receipts(runtime)
    await scheduler_tick(runtime)

    [fallback] = (await _step(api, "CE-5"))["fallbacks"]
    assert fallback["channel"] == "email" and fallback["state"] == "suppressed"
    assert "opt" in (fallback["state_reason"] or "")
    assert len((await api.get("/v1/sandbox/email")).body["messages"]) == 1, "only the earlier one"
    # A suppressed fallback is not a failed channel: the chain ends there, no letter.
    clock.advance(days=2)
    await scheduler_tick(runtime)
    assert len((await _step(api, "CE-5"))["fallbacks"]) == 1


async def test_a_pump_run_twice_or_dying_midway_makes_one_fallback(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Path
) -> None:
    clock.set(T0)
    await _start(api, runtime, "CE-6", phone=UNREACHABLE)
    await release_receipts(runtime)
    await scheduler_tick(runtime)
    await scheduler_tick(runtime)
    [made] = (await _step(api, "CE-6"))["fallbacks"]
    # As if the pump died after intake committed the message and before it stored the link.
    async with runtime.engine.begin() as conn:
        await conn.execute(sa.delete(cadence_fallbacks))
        await conn.execute(sa.update(cadence_steps).values(check_at=clock()))
    clock.advance(minutes=1)
    await scheduler_tick(runtime)
    [again] = (await _step(api, "CE-6"))["fallbacks"]
    assert again["message_id"] == made["message_id"]
    assert await _count(runtime, cadence_fallbacks) == 1
    assert await _count(runtime, messages) == 2  # the SMS and one email
    assert len((await api.get("/v1/sandbox/email")).body["messages"]) == 1


class TestReturnedLetters(WithLob):
    async def test_a_returned_letter_invalidates_the_address_and_needs_an_operator(
        self, api: ApiClient, runtime: Any, clock: Any, lob: FakeLob
    ) -> None:
        clock.set(T0)
        await api.put("/v1/cases/CE-7", case_body())
        await api.put("/v1/cases/CE-7/cadence", {"cadence": "us-third-party"})
        await scheduler_tick(runtime)
        step = await _step(api, "CE-7", "day0-validation-notice")
        letter = (await api.get(f"/v1/messages/{step['message_id']}")).body
        assert letter["state"] == "sent" and letter["provider"] == "lob"

        await post_event(api, *lob.signed(letter["provider_ref"], "returned_to_sender"))
        contacts = (await api.get("/v1/cases/CE-7")).body["contacts"]
        assert next(c["status"] for c in contacts if c["channel"] == "letter") == "invalid"
        [mark] = await _entries(api, "CE-7", "needs_review")
        assert mark["message_id"] == letter["id"]
        assert mark["data"]["reason"] == "letter returned to sender: address invalid"
        # Lob telling it again changes nothing; a letter has no fallback.
        await post_event(api, *lob.signed(letter["provider_ref"], "returned_to_sender"))
        clock.advance(minutes=1)
        await scheduler_tick(runtime)
        assert len(await _entries(api, "CE-7", "needs_review")) == 1
        assert (await _step(api, "CE-7", "day0-validation-notice"))["fallbacks"] == []
        # The case is in the operators' inbox, once, until a person resolves it.
        inbox = (await api.get("/v1/replies?case_ref=CE-7")).body["replies"]
        assert len(inbox) == 1, inbox
        [item] = inbox
        assert item["channel"] == "letter" and item["status"] == "open"
        assert "letter returned to sender" in " ".join(item["review_reasons"])
        resolved = await api.post(
            f"/v1/replies/{item['id']}/resolve",
            {"category": "unknown", "note": "traced a new address; updating the case"},
        )
        assert resolved.status == 200, resolved.body
        assert (await api.get("/v1/replies?case_ref=CE-7")).body["replies"] == []
