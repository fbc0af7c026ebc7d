"""What every provider is: a name, a channel, send / verify / parse, and two kinds of failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from channels.events import DeliveryEvent, InboundMessage


class ProviderError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TransientProviderError(ProviderError):
    """Worth retrying later: timeouts, 5xx, throttling. `retry_after` in seconds if the provider said."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    """Retrying cannot help.

    `provider_side` failures (our account suspended, credentials refused, the provider cannot serve
    this destination) let the next provider of the channel try; recipient failures do not — a
    second provider would only fail the same way. `contact_status` (`invalid`, `opted_out`) tells
    the gateway what the failure says about the debtor's contact point.
    """

    def __init__(
        self, reason: str, *, provider_side: bool = False, contact_status: str | None = None
    ):
        super().__init__(reason)
        self.provider_side = provider_side
        self.contact_status = contact_status


class DeliveryUnknown(ProviderError):
    """The request may have reached the provider, but no answer came (a timeout after sending, a
    connection lost mid-request). Retrying could deliver a second reminder, so the message becomes
    `unknown` and is settled by a receipt or by operations — never resent blindly."""


class SignatureInvalid(Exception):
    """A callback that does not carry the provider's valid signature."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One rendered message, ready for a provider. Carries no more personal data than it needs."""

    message_id: str
    channel: str
    to: str
    body: str
    subject: str | None = None
    html: str | None = None
    postal: Mapping[str, Any] | None = None
    recipient_name: str | None = None
    locale: str = "en"
    headers: Mapping[str, str] = field(default_factory=dict)
    # Email: the SMTP envelope sender (the VERP return path), when it is not the provider's own.
    envelope_from: str | None = None
    # Provider name → {"code", "sign", "params"}: for platforms that only send pre-approved templates.
    provider_templates: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_ref: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Callback:
    """A provider callback as received over HTTP, independent of the web framework."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    content_type: str = ""


class ReceiptSink(Protocol):
    """Where a provider hands receipts and inbound messages that do not arrive over HTTP
    (SMPP deliver_sm, bounce mail). The gateway gives each provider one (`bind_sink`)."""

    async def events(self, events: list[DeliveryEvent]) -> None: ...

    async def inbound(self, messages: list[InboundMessage]) -> None: ...


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[str]
    channel: ClassVar[str]

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, message: Outgoing) -> SendResult: ...

    def verify(self, callback: Callback) -> None:
        """Raise `SignatureInvalid` unless the callback is signed by this provider."""

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]: ...

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]: ...
