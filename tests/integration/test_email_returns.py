"""Mail that comes back, through the real pipeline: a reminder is sent to the SMTP server, then
bounce reports and replies are delivered over SMTP to the gateway's receiver on the test's loop."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import sqlalchemy as sa

from gateway.store.tables import delivery_events, replies
from tests.support import ApiClient, case_body, drain, free_port, reminder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dsn"


async def send_reminder(
    api: ApiClient, runtime: Any, smtp_server: Path, case_ref: str
) -> dict[str, Any]:
    """Send one reminder email; what the mail server got: ids, return path, Reply-To."""
    await api.put(f"/v1/cases/{case_ref}", case_body())
    accepted = await api.post("/v1/reminders", reminder(case_ref, "email"))
    await drain(runtime)
    [path] = [p for p in smtp_server.glob("*.eml") if accepted.body["id"] in p.read_text()]
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return {
        "id": accepted.body["id"],
        "verp": str(mail["X-Envelope-From"]),
        "message_id": str(mail["Message-ID"]).strip("<>"),
        "reply_to": parseaddr(str(mail["Reply-To"]))[1],
    }


def fixture(name: str, sent: dict[str, Any], **values: str) -> bytes:
    text = (FIXTURES / name).read_text()
    values = {
        "VERP": sent["verp"],
        "MESSAGE_ID": sent["message_id"],
        "RCPT": "jane@example.com",
        "REPLY_TO": sent["reply_to"],
        "FROM": "jane.doe@work.example",
        **values,
    }
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text.encode()


async def deliver(port: int, raw: bytes, rcpt: str, sender: str = "") -> None:
    """One SMTP transaction; the empty sender is the null return path (<>) of a bounce."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
        await client.sendmail(sender, [rcpt], raw)


async def timeline(api: ApiClient, case_ref: str) -> list[dict[str, Any]]:
    return (await api.get(f"/v1/cases/{case_ref}/timeline")).body["entries"]


async def email_status(api: ApiClient, case_ref: str) -> str:
    case = (await api.get(f"/v1/cases/{case_ref}")).body
    [contact] = [c for c in case["contacts"] if c["channel"] == "email"]
    return contact["status"]


async def test_the_reminder_carries_a_signed_return_path_and_reply_address(
    api: ApiClient, runtime: Any, smtp_server: Path
) -> None:
    sent = await send_reminder(api, runtime, smtp_server, "C-R0")
    assert sent["verp"].startswith(f"bounce+{sent['id']}.")
    assert sent["verp"].endswith("@bounces.collector.example")
    assert sent["reply_to"].startswith("reply+") and "C-R0" not in sent["reply_to"]
    assert sent["reply_to"].endswith("@replies.collector.example")


@pytest.mark.parametrize("report", ["postfix_5.1.1.eml", "exchange_5.1.10.eml", "gmail_5.1.1.eml"])
async def test_a_hard_bounce_bounces_the_message_and_invalidates_the_address(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int, report: str
) -> None:
    sent = await send_reminder(api, runtime, smtp_server, "C-R1")
    await deliver(receiver, fixture(report, sent), sent["verp"])

    message = (await api.get(f"/v1/messages/{sent['id']}")).body
    assert message["state"] == "bounced"
    [event] = [e for e in message["events"] if e["type"] == "bounced"]
    assert event["provider"] == "smtp" and event["reject_reason"] == "invalid"
    assert "5.1.1" in event["description"] or "5.1.10" in event["description"]
    assert await email_status(api, "C-R1") == "invalid"
    kinds = [e["kind"] for e in await timeline(api, "C-R1")]
    assert kinds[-2:] == ["bounced", "contact_invalid"]

    # The same report delivered again (the MTA retried) changes nothing.
    await deliver(receiver, fixture(report, sent), sent["verp"])
    assert [e["kind"] for e in await timeline(api, "C-R1")] == kinds

    # The next email to that address is not sent.
    again = await api.post("/v1/reminders", reminder("C-R1", "email", key="again"))
    await drain(runtime)
    assert (await api.get(f"/v1/messages/{again.body['id']}")).body["state"] == "suppressed"


async def test_a_forged_return_path_is_refused(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    sent = await send_reminder(api, runtime, smtp_server, "C-R2")
    forged = sent["verp"].split(".")[0] + ".0000000000000000@bounces.collector.example"
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await deliver(receiver, fixture("postfix_5.1.1.eml", sent, VERP=forged), forged)
    assert refused.value.recipients[0].code == 550
    # Relaying for anyone else is refused too.
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await deliver(receiver, fixture("postfix_5.1.1.eml", sent), "jane@example.com")
    assert (await api.get(f"/v1/messages/{sent['id']}")).body["state"] == "sent"
    assert await email_status(api, "C-R2") == "active"


async def test_a_report_to_a_plain_bounce_address_is_matched_by_message_id(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    sent = await send_reminder(api, runtime, smtp_server, "C-R3")
    await deliver(
        receiver, fixture("postfix_5.1.1.eml", sent), "postmaster@bounces.collector.example"
    )
    message = (await api.get(f"/v1/messages/{sent['id']}")).body
    assert message["state"] == "bounced"


async def test_a_delayed_report_is_a_deferred_event_and_the_message_stays_sent(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    sent = await send_reminder(api, runtime, smtp_server, "C-R4")
    await deliver(receiver, fixture("postfix_4.4.1_delayed.eml", sent), sent["verp"])
    message = (await api.get(f"/v1/messages/{sent['id']}")).body
    assert message["state"] == "sent"
    [event] = [e for e in message["events"] if e["type"] == "deferred"]
    assert "timed out" in event["description"]
    assert await email_status(api, "C-R4") == "active"
    assert (await timeline(api, "C-R4"))[-1]["kind"] == "deferred"


async def test_a_blocked_bounce_leaves_the_address_alone(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    sent = await send_reminder(api, runtime, smtp_server, "C-R5")
    await deliver(receiver, fixture("postfix_5.7.1_blocked.eml", sent), sent["verp"])
    message = (await api.get(f"/v1/messages/{sent['id']}")).body
    assert message["state"] == "bounced"
    assert message["events"][-1]["reject_reason"] == "blocked"
    assert await email_status(api, "C-R5") == "active"


async def stored_replies(runtime: Any) -> list[Any]:
    async with runtime.engine.connect() as conn:
        return list(await conn.execute(sa.select(replies).order_by(replies.c.id)))


async def test_a_reply_from_another_mailbox_lands_on_the_right_case(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    other = await send_reminder(api, runtime, smtp_server, "C-R6-other")
    sent = await send_reminder(api, runtime, smtp_server, "C-R6")
    assert sent["reply_to"] != other["reply_to"]
    raw = fixture("plain_reply.eml", sent, FROM="jane.doe@work.example")
    await deliver(receiver, raw, sent["reply_to"], sender="jane.doe@work.example")

    [entry] = [e for e in await timeline(api, "C-R6") if e["kind"] == "reply_received"]
    # "I already paid this in full last Friday […] Please stop sending these reminders."
    assert entry["data"]["category"] == "opt_out_channel" and entry["data"]["routed_by"] == "token"
    assert entry["data"]["categories"] == ["opt_out_channel", "already_paid"]
    assert entry["data"]["body"].startswith("Hello,") and "wrote:" not in entry["data"]["body"]
    assert all(e["kind"] != "reply_received" for e in await timeline(api, "C-R6-other"))
    [reply] = await stored_replies(runtime)
    assert reply.from_addr == "jane.doe@work.example" and reply.channel == "email"
    assert reply.contact_id is None, "the sender is not one of the case's contact points"
    assert reply.raw["in_reply_to"] == sent["message_id"]


async def test_a_reply_delivered_twice_is_stored_once(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    """A sending server that lost our 250 delivers the mail again: same Message-ID, one reply."""
    sent = await send_reminder(api, runtime, smtp_server, "C-R11")
    raw = fixture("plain_reply.eml", sent)
    for _ in range(2):
        await deliver(receiver, raw, sent["reply_to"], sender="jane.doe@work.example")
    [reply] = await stored_replies(runtime)
    assert reply.provider_ref == "CAF7x9Jq2m+Vh0TzK3bS1wYp8rLd6Q5c4N2eXoA0uZbRk9TqHg@mail.gmail.com"
    entries = [e for e in await timeline(api, "C-R11") if e["kind"] == "reply_received"]
    assert len(entries) == 1


async def test_a_reply_with_a_very_long_message_id_is_stored_and_deduplicated(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    # RFC 5322 bounds a Message-ID only by the line length; it is kept in full in the raw
    # payload and identified by a digest, which fits the reference column on every database.
    sent = await send_reminder(api, runtime, smtp_server, "C-R12")
    long_id = "x" * 300 + "@mail.example"
    raw = fixture("plain_reply.eml", sent).replace(
        b"CAF7x9Jq2m+Vh0TzK3bS1wYp8rLd6Q5c4N2eXoA0uZbRk9TqHg@mail.gmail.com", long_id.encode()
    )
    for _ in range(2):
        await deliver(receiver, raw, sent["reply_to"], sender="jane.doe@work.example")
    [reply] = await stored_replies(runtime)
    assert reply.raw["message_id"] == long_id and len(reply.provider_ref) <= 128


async def test_an_auto_reply_is_stored_flagged_and_not_as_the_debtors_words(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    sent = await send_reminder(api, runtime, smtp_server, "C-R7")
    await deliver(
        receiver, fixture("ooo_autoreply.eml", sent), sent["reply_to"], "jane@example.com"
    )
    # RFC 3834 responders may answer the return path instead: same case, same flag. (Another
    # auto-reply, so another Message-ID: the same one would be the same mail delivered again.)
    again = fixture("ooo_autoreply.eml", sent).replace(b"<AM6PR10MB", b"<BM6PR10MB", 1)
    await deliver(receiver, again, sent["verp"], "")

    first, second = await stored_replies(runtime)
    for reply in (first, second):
        assert reply.category == "auto_reply" and reply.raw["auto_reply"] is True
        assert reply.case_id is not None
    assert first.contact_id is not None, "sent from the case's own address"
    entries = [e for e in await timeline(api, "C-R7") if e["kind"] == "reply_received"]
    assert [e["data"]["category"] for e in entries] == ["auto_reply", "auto_reply"]
    message = (await api.get(f"/v1/messages/{sent['id']}")).body
    assert message["state"] == "sent", "an auto-reply to the return path is not a bounce"


async def test_a_reply_with_a_forged_token_falls_back_to_the_sender_address(
    api: ApiClient, runtime: Any, smtp_server: Path, receiver: int
) -> None:
    sent = await send_reminder(api, runtime, smtp_server, "C-R8")
    forged = "reply+999.0000000000000000@replies.collector.example"
    raw = fixture("plain_reply.eml", sent, REPLY_TO=forged, FROM="stranger@example.org")
    await deliver(receiver, raw, forged, sender="stranger@example.org")
    [reply] = await stored_replies(runtime)
    assert reply.case_id is None, "unknown sender, no valid token: kept for operations to triage"


async def test_a_bounce_that_overtakes_the_send_record_is_retried_later(
    api: ApiClient, runtime: Any, receiver: int
) -> None:
    """A VERP bounce for a message still in a worker's hands gets 451, so the MTA retries."""
    from channels.email.tokens import bounce_address
    from gateway.store.tables import messages

    await api.put("/v1/cases/C-R9", case_body())
    accepted = await api.post("/v1/reminders", reminder("C-R9", "email"))
    async with runtime.engine.begin() as conn:
        await conn.execute(
            sa.update(messages).where(messages.c.id == accepted.body["id"]).values(state="sending")
        )
    verp = bounce_address(runtime.settings.secret, accepted.body["id"], "bounces.collector.example")
    sent = {"verp": verp, "message_id": "x@y", "reply_to": "r@replies.collector.example"}
    with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
        await deliver(receiver, fixture("postfix_5.1.1.eml", sent), verp)
    assert deferred.value.code == 451
    async with runtime.engine.connect() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(delivery_events))
        ).scalar() == 0


async def test_oversized_mail_is_refused(runtime: Any, receiver: int) -> None:
    mail = EmailMessage()
    mail["From"] = "jane@example.com"
    mail["Subject"] = "big"
    mail.set_content("x" * (runtime.settings.receiver_max_bytes + 10))
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await aiosmtplib.send(
            mail,
            sender="jane@example.com",
            recipients=["reply+1.0@replies.collector.example"],
            hostname="127.0.0.1",
            port=receiver,
        )
    assert refused.value.code == 552


@pytest.mark.slow
async def test_the_receiver_command_stores_replies(
    api: ApiClient, runtime: Any, smtp_server: Path, settings: Any
) -> None:
    """`reminder-gateway receiver` as its own process, wired to the same database."""
    import asyncio
    import sys

    from tests.support import settings_env, wait_for

    sent = await send_reminder(api, runtime, smtp_server, "C-R10")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "receiver",
        env=settings_env(settings, RECEIVER_PORT=str(port)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )

    async def listening() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    try:
        await wait_for(listening, timeout=20)
        raw = fixture("plain_reply.eml", sent)
        await deliver(port, raw, sent["reply_to"], sender="jane.doe@work.example")
    finally:
        process.terminate()
        output = (await asyncio.wait_for(process.communicate(), 10))[0].decode()
    assert process.returncode == 0, output
    [reply] = await stored_replies(runtime)
    assert reply.from_addr == "jane.doe@work.example"
    assert "reply_received" in [e["kind"] for e in await timeline(api, "C-R10")]
    assert "jane" not in output.lower(), "no personal data in the receiver's log"
