"""The gateway's own SMTP receiver (aiosmtpd): bounces and replies come back here.

Not to be confused with `catcher.py`, which plays the outside world's mail server in development.
This one is the gateway's inbox on the Internet:

- It accepts mail only for the bounce and reply domains; anything else is refused at RCPT TO with
  550, so it can never be used as a relay. A VERP address whose signature is wrong is refused too.
- A delivery-status report (RFC 3464), or anything sent to a VERP address, is a bounce: each
  per-recipient outcome becomes a `DeliveryEvent` for the message the VERP address names (or, for
  a report sent elsewhere, the message whose Message-ID the report quotes).
- Anything else is a reply: an `InboundMessage` addressed to the reply address (whose token names
  the case), flagged `auto_reply` when a machine wrote it.
- If storing fails, the sender is told 451 (try again later) rather than the mail being dropped.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.base import ReceiptSink
from channels.email import dsn, tokens
from channels.email.inbound_mail import read_reply
from channels.events import DeliveryEvent, DeliveryEventType, InboundMessage

log = structlog.get_logger()

PROVIDER = "smtp"  # bounces are receipts for mail the SMTP provider sent


class MailSink(ReceiptSink, Protocol):
    """A receipt sink that can also say which provider reference a message was sent under."""

    async def message_ref(self, message_id: str) -> tuple[str, str | None] | None:
        """(provider, provider reference) of a message; reference None while not yet recorded;
        None for no such message."""
        ...


class TryLater(Exception):
    """The mail cannot be stored yet; the sending server should retry it."""


class MailReceiver:
    """aiosmtpd handler for the bounce and reply domains."""

    def __init__(
        self,
        sink: MailSink,
        *,
        secret: str,
        bounce_domain: str,
        reply_domain: str,
        clock: Callable[[], datetime] | None = None,
    ):
        self.sink = sink
        self.secret = secret
        self.bounce_domain = bounce_domain.lower()
        self.reply_domain = reply_domain.lower()
        self.clock = clock or (lambda: datetime.now(UTC))

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain not in (self.bounce_domain, self.reply_domain) or not domain:
            return "550 5.7.1 Relaying denied"
        is_verp = address.lower().startswith(tokens.BOUNCE_PREFIX) and domain == self.bounce_domain
        if is_verp and tokens.message_of_bounce_address(self.secret, address) is None:
            return "550 5.1.1 No such bounce address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        assert isinstance(raw, bytes)
        try:
            await self.receive(envelope.mail_from, list(envelope.rcpt_tos), raw)
        except TryLater as exc:
            log.info("mail_deferred", reason=str(exc))
            return "451 4.3.0 Not ready for this mail yet, try again later"
        except Exception:  # noqa: BLE001 — the sender keeps the mail and retries: nothing lost
            log.exception("mail_receive_failed")
            return "451 4.3.0 Temporary failure, try again later"
        return "250 2.0.0 OK"

    async def receive(self, mail_from: str | None, rcpt_tos: list[str], raw: bytes) -> str:
        """Handle one accepted mail; returns what it was taken for (`bounce`, `reply`…)."""
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        verp = [m for r in rcpt_tos if (m := self._verp(r)) is not None]
        report = dsn.parse(mail)
        if report is not None:
            return await self._report(mail, raw, report, verp[0] if verp else None)
        if verp:
            reply = read_reply(mail, mail_from)
            if reply.auto_reply is None:
                return await self._plain_bounce(mail, raw, verp[0], reply.text)
            # RFC 3834 responders answer the return path: an auto-reply about one message.
            rcpt = next(r for r in rcpt_tos if self._verp(r) is not None)
            return await self._reply(mail, mail_from, rcpt)
        for rcpt in rcpt_tos:
            if rcpt.rpartition("@")[2].lower() == self.reply_domain:
                return await self._reply(mail, mail_from, rcpt)
        log.info("mail_ignored", reason="no reply or bounce recipient")
        return "ignored"

    def _verp(self, address: str) -> str | None:
        return tokens.message_of_bounce_address(self.secret, address, self.bounce_domain)

    async def _ref(self, message_id: str) -> tuple[str, str] | None:
        found = await self.sink.message_ref(message_id)
        if found is None:
            return None
        provider, ref = found
        if ref is None:
            # The bounce overtook the worker recording the send: ask the sender to come back.
            raise TryLater("message not recorded as sent yet")
        return provider, ref

    async def _report(
        self, mail: EmailMessage, raw: bytes, report: dsn.Report, message_id: str | None
    ) -> str:
        if message_id is not None:
            ref, matched_by = await self._ref(message_id), "verp"
        elif report.original_message_id:
            # Sent to a plain address at our domain: only the quoted Message-ID says which mail.
            ref, matched_by = (PROVIDER, report.original_message_id), "message-id"
        else:
            ref, matched_by = None, "none"
        if ref is None:
            log.info("bounce_unmatched", matched_by=matched_by)
            return "ignored"
        base = _event_base(mail, raw)
        events = []
        for i, rcpt in enumerate(report.recipients):
            kind, reason = dsn.outcome(rcpt.action, rcpt.status)
            events.append(
                DeliveryEvent(
                    provider=ref[0],
                    provider_ref=ref[1],
                    event_id=f"dsn:{base}:{i}",
                    type=kind,
                    occurred_at=rcpt.last_attempt or self.clock(),
                    reject_reason=reason,
                    description=rcpt.diagnostic or rcpt.status or None,
                    raw={
                        "source": "dsn",
                        "matched_by": matched_by,
                        "reporting_mta": report.reporting_mta,
                        "recipient": rcpt.recipient,
                        "action": rcpt.action,
                        "status": rcpt.status,
                        "diagnostic": rcpt.diagnostic,
                        "remote_mta": rcpt.remote_mta,
                    },
                )
            )
        await self.sink.events(events)
        log.info("bounce_received", matched_by=matched_by, outcomes=[e.type.value for e in events])
        return "bounce"

    async def _plain_bounce(
        self, mail: EmailMessage, raw: bytes, message_id: str, text: str
    ) -> str:
        ref = await self._ref(message_id)
        if ref is None:
            log.info("bounce_unmatched", matched_by="verp")
            return "ignored"
        kind, reason, status = dsn.plain_outcome(text)
        event = DeliveryEvent(
            provider=ref[0],
            provider_ref=ref[1],
            event_id=f"dsn:{_event_base(mail, raw)}:0",
            type=kind,
            occurred_at=self.clock(),
            reject_reason=reason,
            description=status or "mail to the return path that is not a delivery report",
            raw={"source": "plain", "matched_by": "verp", "status": status},
        )
        await self.sink.events([event])
        log.info("bounce_received", matched_by="verp", outcomes=[kind.value])
        return "bounce" if kind is not DeliveryEventType.UNKNOWN else "unknown"

    async def _reply(self, mail: EmailMessage, mail_from: str | None, rcpt: str) -> str:
        reply = read_reply(mail, mail_from)
        raw: dict[str, Any] = {
            "subject": reply.subject,
            "message_id": reply.message_id,
            "in_reply_to": reply.in_reply_to,
            "envelope_from": mail_from,
            "auto_reply": reply.auto_reply is not None,
        }
        if reply.auto_reply is not None:
            raw["auto_reply_reason"] = reply.auto_reply
        message = InboundMessage(
            provider=PROVIDER,
            channel="email",
            from_addr=reply.sender,
            to_addr=rcpt,
            body=reply.text,
            provider_ref=reply.message_id,
            received_at=self.clock(),
            raw=raw,
        )
        await self.sink.inbound([message])
        log.info("reply_received", auto_reply=reply.auto_reply)
        return "auto_reply" if reply.auto_reply else "reply"


def _event_base(mail: EmailMessage, raw: bytes) -> str:
    """Stable per report, so a report delivered twice is stored once (events dedupe on it)."""
    seed = str(mail.get("Message-ID", "")).strip().encode() or raw
    return hashlib.sha256(seed).hexdigest()[:32]


async def serve(
    handler: MailReceiver,
    host: str,
    port: int,
    *,
    max_bytes: int = 10 * 1024 * 1024,
    hostname: str | None = None,
) -> asyncio.Server:
    """Listen for SMTP on the caller's loop. Mail over `max_bytes` is refused with 552."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            handler,
            hostname=hostname or handler.bounce_domain or "localhost",
            data_size_limit=max_bytes,
            enable_SMTPUTF8=True,
        ),
        host,
        port,
    )
