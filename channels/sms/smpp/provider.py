"""The SMPP 3.4 SMS provider: submit_sm over one persistent transceiver session per process.

Sending: the text is encoded GSM-7 or UCS-2 and split into concatenated parts (`text`), each part
submitted with registered_delivery=1; the message's provider reference is the canonical id of its
first part. Once the first part is accepted the message has been handed over: a later part that
cannot be submitted is reported in the result (`incomplete`), never retried as a whole message,
because that would send the debtor the first part twice.

Receipts and replies arrive as deliver_sm on whichever worker's session the SMSC picks. Receipts
of later parts are translated to the first part's id through a Redis mapping (kept a few days),
so every part's receipt lands on the message as an event of its own. Multi-part rule: the message
follows the usual monotonic state rules, so it is `delivered` once any part is reported
delivered, and `undelivered`/`failed` only when no part was; carriers deliver the parts of one
message to one handset together, and the per-part events stay on the timeline as evidence.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from channels.base import (
    Callback,
    DeliveryUnknown,
    Outgoing,
    PermanentProviderError,
    ReceiptSink,
    SendResult,
    SignatureInvalid,
    TransientProviderError,
)
from channels.events import DeliveryEvent, DeliveryEventType, InboundMessage
from channels.sms.smpp import receipts, text
from channels.sms.smpp.client import ConnectionLost, Esme, NotBound
from channels.sms.smpp.pdu import Pdu, Status, Tlv, status_name

log = structlog.get_logger()

PART_TTL_S = 3 * 86400  # receipts can take days (validity period); the mapping outlives them
_TRANSIENT = {Status.RTHROTTLED, Status.RMSGQFUL, Status.RSYSERR, Status.RX_T_APPN}
_TRANSIENT |= {Status.RINVBNDSTS}
_PROVIDER_SIDE = {Status.RINVSRCADR, Status.RINVPASWD, Status.RINVSYSID, Status.RBINDFAIL}


def address(value: str) -> tuple[int, int, str]:
    """(TON, NPI, digits) for an address: E.164 is international/ISDN, letters alphanumeric."""
    value = value.strip()
    if value.startswith("+") and value[1:].isdigit():
        return 1, 1, value[1:]
    if value.isdigit():
        return 0, 1, value
    return 5, 0, value


def _from_address(ton: int, digits: str) -> str:
    return f"+{digits}" if ton == 1 and digits.isdigit() else digits


class SmppSms:
    name: ClassVar[str] = "smpp"
    channel: ClassVar[str] = "sms"
    STATUS_MAP: ClassVar[dict[str, DeliveryEventType]] = receipts.STATUS_MAP

    def __init__(
        self,
        *,
        host: str,
        port: int,
        system_id: str,
        password: str,
        source_addr: str,
        redis: Redis,
        parts_key_prefix: str,
        system_type: str = "",
        window: int = 10,
        enquire_link_s: float = 30.0,
        submit_timeout_s: float = 10.0,
        receipt_id_format: str = "same",
        throttle_retry_s: float = 5.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ):
        if receipt_id_format not in receipts.ID_FORMATS:
            raise ValueError(f"receipt id format must be one of {', '.join(receipts.ID_FORMATS)}")
        self.source = address(source_addr)
        self.redis = redis
        self.parts_key_prefix = parts_key_prefix
        self.receipt_id_format = receipt_id_format
        self.throttle_retry_s = throttle_retry_s
        self.submit_timeout_s = submit_timeout_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sink: ReceiptSink | None = None
        self.esme = Esme(
            host=host,
            port=port,
            system_id=system_id,
            password=password,
            system_type=system_type,
            on_deliver=self.on_deliver,
            window=window,
            enquire_link_s=enquire_link_s,
            timeout_s=submit_timeout_s,
            reconnect_min_s=reconnect_min_s,
            reconnect_max_s=reconnect_max_s,
        )

    def bind_sink(self, sink: ReceiptSink) -> None:
        self.sink = sink

    async def start(self) -> None:
        await self.esme.start()

    async def close(self) -> None:
        await self.esme.close()

    # --- sending ------------------------------------------------------------------------------

    async def send(self, message: Outgoing) -> SendResult:
        """Submit every part; the result names the first part's canonical id (see module doc)."""
        if not self.esme.bound:
            # Reconnecting: wait for it. Refused credentials will not fix themselves meanwhile.
            if self.esme.bind_status is None:
                await self.esme.wait_bound(self.submit_timeout_s)
            if not self.esme.bound:
                raise self._unavailable()
        try:
            encoded = text.encode_text(message.body)
        except ValueError as exc:
            raise PermanentProviderError(f"smpp: {exc}") from None
        ton, npi, digits = address(message.to)
        fields = {
            "source_addr_ton": self.source[0],
            "source_addr_npi": self.source[1],
            "source_addr": self.source[2],
            "dest_addr_ton": ton,
            "dest_addr_npi": npi,
            "destination_addr": digits,
            "esm_class": encoded.esm_class,
            "registered_delivery": 1,
            "data_coding": encoded.data_coding,
        }
        raw_first, first = await self._submit(fields, encoded.parts[0])
        refs = [first]
        for part in encoded.parts[1:]:
            ref = await self._submit_later_part(fields, part, message.message_id)
            if ref is None:
                break
            refs.append(ref)
        await self._remember_parts(refs)
        detail: dict[str, Any] = {
            "parts": len(encoded.parts),
            "encoding": encoded.encoding,
            "part_refs": refs,
            "smsc_message_id": raw_first,
        }
        if len(refs) < len(encoded.parts):
            detail["incomplete"] = True
        return SendResult(provider_ref=first, detail=detail)

    async def _submit(self, fields: dict[str, Any], part: bytes) -> tuple[str, str]:
        """Submit one part; (id as the SMSC wrote it, canonical id), or the provider error."""
        try:
            resp = await self.esme.submit({**fields, "short_message": part})
        except TimeoutError:
            # The SMSC may have taken it: a retry could send it twice.
            raise DeliveryUnknown("smpp: no submit_sm_resp in time") from None
        except NotBound:
            raise self._unavailable() from None
        except ConnectionLost:
            raise DeliveryUnknown("smpp: connection lost awaiting submit_sm_resp") from None
        status = resp.status
        if status == Status.ROK:
            raw = str(resp.get("message_id"))
            ref = receipts.submit_id(raw, self.receipt_id_format)
            if not ref:
                # Accepted but unmatchable: retrying would send it twice, so never retry.
                raise PermanentProviderError("smpp: submit_sm_resp without message_id")
            return raw, ref
        reason = f"smpp: {status_name(status)}"
        if status in (Status.RTHROTTLED, Status.RMSGQFUL):
            raise TransientProviderError(reason, retry_after=self.throttle_retry_s)
        if status in _TRANSIENT:
            raise TransientProviderError(reason)
        if status == Status.RINVDSTADR:
            raise PermanentProviderError(reason, contact_status="invalid")
        raise PermanentProviderError(reason, provider_side=status in _PROVIDER_SIDE)

    async def _submit_later_part(
        self, fields: dict[str, Any], part: bytes, message_id: str
    ) -> str | None:
        """A part after the first: retried briefly on transient errors; None if it cannot go."""
        for attempt in range(3):
            try:
                return (await self._submit(fields, part))[1]
            except DeliveryUnknown as exc:
                error = exc.reason
                break
            except TransientProviderError as exc:
                error = exc.reason
                if attempt < 2:
                    await asyncio.sleep(min(exc.retry_after or 0.5, 0.5 * 2**attempt))
            except PermanentProviderError as exc:
                error = exc.reason
                break
        log.warning("smpp_part_not_sent", message_id=message_id, reason=error)
        return None

    async def _remember_parts(self, refs: list[str]) -> None:
        if len(refs) < 2:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for ref in refs[1:]:
                    pipe.set(self.parts_key_prefix + ref, refs[0], ex=PART_TTL_S)
                await pipe.execute()
        except RedisError as exc:
            # Sent already: failing now would invite a second send. Later parts' receipts will
            # wait unmatched instead.
            log.warning("smpp_part_mapping_failed", ref=refs[0], error=type(exc).__name__)

    def _unavailable(self) -> PermanentProviderError | TransientProviderError:
        if self.esme.bind_status is not None:
            # Our credentials or account, not the message: let the next SMS provider try.
            return PermanentProviderError(
                f"smpp: bind refused: {status_name(self.esme.bind_status)}", provider_side=True
            )
        return TransientProviderError("smpp: not connected")

    # --- what the SMSC delivers ---------------------------------------------------------------

    async def on_deliver(self, pdu: Pdu) -> int:
        """Store a receipt or a reply; the status to answer in deliver_sm_resp."""
        if self.sink is None:
            log.warning("smpp_deliver_without_sink", sequence=pdu.sequence)
            return Status.RX_T_APPN
        if receipts.is_receipt(pdu):
            event = receipts.to_event(
                pdu, provider=self.name, id_format=self.receipt_id_format, received_at=self.clock()
            )
            if event is None:
                log.error("smpp_receipt_without_id", sequence=pdu.sequence)
                return Status.RX_P_APPN
            event = await self._for_message(event)
            await self.sink.events([event])
            log.debug("smpp_receipt", ref=event.provider_ref, type=event.type.value)
            return Status.ROK
        await self.sink.inbound([self.inbound_of(pdu)])
        return Status.ROK

    async def _for_message(self, event: DeliveryEvent) -> DeliveryEvent:
        """A later part's receipt, re-addressed to the message's first part."""
        first = await self.redis.get(self.parts_key_prefix + event.provider_ref)
        if first is None:
            return event
        first_ref = first.decode() if isinstance(first, bytes) else str(first)
        raw = {**event.raw, "part_ref": event.provider_ref}
        return dataclasses.replace(event, provider_ref=first_ref, raw=raw)

    def inbound_of(self, pdu: Pdu) -> InboundMessage:
        """A debtor's message (MO) from its deliver_sm; concatenated parts arrive one by one."""
        esm_class, coding = int(pdu.get("esm_class")), int(pdu.get("data_coding"))
        message = pdu.get("short_message") or pdu.tlvs.get(Tlv.MESSAGE_PAYLOAD, b"")
        concat, payload = text.split_udh(esm_class, message)
        raw: dict[str, Any] = {"data_coding": coding, "esm_class": esm_class}
        if concat is not None:
            raw["concat"] = {"ref": concat.ref, "total": concat.total, "seq": concat.seq}
        return InboundMessage(
            provider=self.name,
            channel="sms",
            from_addr=_from_address(int(pdu.get("source_addr_ton")), pdu.get("source_addr")),
            to_addr=_from_address(int(pdu.get("dest_addr_ton")), pdu.get("destination_addr")),
            body=text.decode_text(coding, payload),
            provider_ref=None,
            received_at=self.clock(),
            raw=raw,
        )

    # --- HTTP callbacks: SMPP has none --------------------------------------------------------

    def verify(self, callback: Callback) -> None:
        raise SignatureInvalid("smpp receipts arrive on the SMPP session, not over HTTP")

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]:
        return []

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]:
        return []
