"""Email over SMTP (aiosmtplib) through a pool of persistent connections.

Connections are opened lazily, reused across messages and jobs, and dropped after any error, so a
worker sends thousands of mails over a handful of sessions instead of one handshake per mail (and
one STARTTLS and AUTH per session, not per mail). The envelope sender is the message's own VERP
return path when it has one, so bounces name the message they are about.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

import aiosmtplib
import structlog

from channels.base import (
    Callback,
    DeliveryUnknown,
    Outgoing,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from channels.email.mime import build
from channels.events import DeliveryEvent, InboundMessage

if TYPE_CHECKING:
    from channels.email.signing import DkimSigner  # dkimpy is imported only when DKIM is on

log = structlog.get_logger()

# "Authentication required / failed / too weak / needs encryption": about our account, never about
# the message, so they do not fail it.
AUTH_CODES = (530, 534, 535, 538)


class SmtpEmail:
    name: ClassVar[str] = "smtp"
    channel: ClassVar[str] = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        sender_name: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        tls_verify: bool = True,
        ca_file: str = "",
        pool_size: int = 8,
        timeout_s: float = 15.0,
        dkim: DkimSigner | None = None,
    ):
        self.host, self.port = host, port
        self.sender, self.sender_name = sender, sender_name
        self.domain = sender.rpartition("@")[2] or "localhost"
        self.username, self.password = username, password
        self.starttls = starttls
        self.tls_verify, self.ca_file = tls_verify, ca_file
        self.dkim = dkim
        self.timeout_s = timeout_s
        self.pool_size = pool_size
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(pool_size)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout_s,
            # Required when configured; otherwise used if the server offers it.
            start_tls=self.starttls or None,
            validate_certs=self.tls_verify,
            cert_bundle=self.ca_file or None,
        )
        await client.connect()
        if self.username:
            try:
                await client.login(self.username, self.password)
            except aiosmtplib.SMTPException:
                client.close()
                raise
        return client

    async def send(self, message: Outgoing) -> SendResult:
        mail = build(message, sender=self.sender, sender_name=self.sender_name, domain=self.domain)
        envelope_from = message.envelope_from or self.sender
        data = self.dkim.sign(mail.data, mail.header_names) if self.dkim is not None else mail.data
        async with self._slots:
            client = self._idle.get_nowait() if not self._idle.empty() else None
            in_data = False
            try:
                client = await self._envelope(client, envelope_from, message.to)
                # From here on the server may have the mail even if no answer comes back.
                in_data = True
                await client.data(data)
            except aiosmtplib.SMTPRecipientRefused as exc:
                await self._reset(client)
                if exc.code >= 500:
                    raise PermanentProviderError(f"recipient refused ({exc.code})") from None
                raise TransientProviderError(f"recipient deferred ({exc.code})") from None
            except aiosmtplib.SMTPAuthenticationError as exc:
                # Our credentials, not this message, are wrong: retry once ops have fixed them.
                self._discard(client)
                raise TransientProviderError(f"smtp authentication failed ({exc.code})") from None
            except aiosmtplib.SMTPResponseException as exc:
                self._discard(client)
                if exc.code in AUTH_CODES:
                    raise TransientProviderError(
                        f"smtp authentication required ({exc.code})"
                    ) from None
                if exc.code >= 500:
                    raise PermanentProviderError(f"smtp {exc.code}") from None
                raise TransientProviderError(f"smtp {exc.code}") from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                self._discard(client)
                if in_data:
                    # A second DATA could deliver a second reminder: let receipts or ops settle it.
                    raise DeliveryUnknown(
                        f"smtp: no answer to DATA ({type(exc).__name__})"
                    ) from None
                raise TransientProviderError(f"smtp connection: {type(exc).__name__}") from None
            self._keep(client)
        return SendResult(mail.message_id)

    async def _envelope(
        self, client: aiosmtplib.SMTP | None, sender: str, recipient: str
    ) -> aiosmtplib.SMTP:
        """MAIL FROM and RCPT TO, on a pooled connection or a new one. A pooled connection the
        server has silently closed is replaced once, at once, instead of failing the message."""
        if client is not None and client.is_connected:
            try:
                await client.mail(sender)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError):
                client.close()
                client = None
            else:
                await client.rcpt(recipient)
                return client
        client = await self._connect()
        await client.mail(sender)
        await client.rcpt(recipient)
        return client

    async def _reset(self, client: aiosmtplib.SMTP | None) -> None:
        """RSET after a refused recipient, so the connection can carry the next mail."""
        if client is None:
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
            return
        self._keep(client)

    def _keep(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            self._idle.put_nowait(client)

    @staticmethod
    def _discard(client: aiosmtplib.SMTP | None) -> None:
        if client is not None:
            client.close()

    def verify(self, callback: Callback) -> None:
        raise NotImplementedError("plain SMTP has no callbacks; bounces arrive as DSN mail")

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]:
        return []

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]:
        return []
