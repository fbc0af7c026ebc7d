"""A small SMSC for tests: an asyncio TCP server speaking SMPP 3.4 to the gateway's ESME.

It frames and codes PDUs with the gateway's codec, which tests/unit/test_smpp_pdu.py checks
byte for byte against an independent implementation (smpplib). It checks bind credentials,
answers enquire_link, answers submit_sm with ids (decimal, or hex like some SMSCs), can answer
ESME_RTHROTTLED (or any status) for the next submits, records what it received (UDH parts
decoded), pushes deliver_sm receipts and MO messages and waits for deliver_sm_resp, and can drop
its connections to make the ESME reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from channels.sms.smpp.pdu import (
    Command,
    Pdu,
    Status,
    Tlv,
    decode,
    encode,
    frame_length,
    response_to,
)
from channels.sms.smpp.text import Concat, decode_text, gsm7_encode, split_udh


@dataclass
class Submitted:
    message_id: str
    fields: dict[str, Any]
    concat: Concat | None
    text: str


@dataclass
class _Conn:
    writer: asyncio.StreamWriter
    bound: bool = False
    waiting: dict[int, asyncio.Future[Pdu]] = field(default_factory=dict)


class Smsc:
    def __init__(
        self, system_id: str = "gateway", password: str = "s3cret", *, hex_ids: bool = False
    ):
        self.system_id, self.password, self.hex_ids = system_id, password, hex_ids
        self.submits: list[Submitted] = []
        self.binds: list[int] = []  # status answered to each bind
        self.unbinds = 0
        self.enquire_links = 0
        self.answer_enquire_link = True
        self.submit_delay_s = 0.0
        self.outstanding = 0  # submits received and not yet answered
        self.max_outstanding = 0
        self._next_id = 0x4D2  # ids 1234, 1235, … (hex: 4D2, 4D3, …)
        self._statuses: list[int] = []
        self._conns: list[_Conn] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()  # notified on every bind
        self._seq = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> Smsc:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await self.drop()
        if self._server is not None:
            await self._server.wait_closed()

    async def drop(self) -> None:
        """Cut every connection at once, as a crashing SMSC or a broken network would."""
        for conn in list(self._conns):
            conn.writer.transport.abort()
        self._conns.clear()
        await asyncio.sleep(0)

    def answer_next(self, count: int, status: int = Status.RTHROTTLED) -> None:
        """Answer the next `count` submit_sm with `status` (ESME_ROK: accept as usual)."""
        self._statuses.extend([status] * count)

    @property
    def bound_count(self) -> int:
        return sum(1 for c in self._conns if c.bound)

    async def wait_bound(self, sessions: int = 1, timeout: float = 5.0) -> None:
        """Wait until `sessions` binds have succeeded in total and one is bound now."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(
                lambda: self.binds.count(Status.ROK) >= sessions and self.bound_count > 0
            )

    def texts(self) -> list[str]:
        """Submitted messages as the handset would show them: concatenated parts joined."""
        out: dict[Any, list[Submitted]] = {}
        for i, sub in enumerate(self.submits):
            key = (sub.fields["destination_addr"], sub.concat.ref) if sub.concat else i
            out.setdefault(key, []).append(sub)
        return [
            "".join(s.text for s in sorted(parts, key=lambda s: s.concat.seq if s.concat else 0))
            for parts in out.values()
        ]

    # --- pushing to the ESME ------------------------------------------------------------------

    async def deliver(
        self, fields: dict[str, Any], tlvs: dict[int, bytes] | None = None, timeout: float = 5.0
    ) -> int:
        """Send a deliver_sm on the newest bound session; the status of its deliver_sm_resp."""
        conn = next(c for c in reversed(self._conns) if c.bound)
        self._seq += 1
        pdu = Pdu(Command.DELIVER_SM, self._seq, fields=fields, tlvs=tlvs or {})
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        conn.waiting[pdu.sequence] = future
        conn.writer.write(encode(pdu))
        resp = await asyncio.wait_for(future, timeout)
        return resp.status

    async def receipt(
        self,
        message_id: str,
        stat: str = "DELIVRD",
        err: str = "000",
        *,
        tlv_id: str | None = None,
        message_state: int | None = None,
    ) -> int:
        """A delivery receipt in SMPP 3.4 Appendix B form (and TLVs when given)."""
        text = (
            f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:2611240100 done date:2611240101 stat:{stat} err:{err} text:Your payment"
        )
        tlvs = {}
        if tlv_id is not None:
            tlvs[Tlv.RECEIPTED_MESSAGE_ID] = tlv_id.encode() + b"\0"
        if message_state is not None:
            tlvs[Tlv.MESSAGE_STATE] = bytes((message_state,))
        fields = {
            "source_addr_ton": 1,
            "source_addr_npi": 1,
            "source_addr": "14155550123",
            "destination_addr": "15005550006",
            "esm_class": 0x04,
            "short_message": text.encode(),
        }
        return await self.deliver(fields, tlvs)

    async def mo(self, source_addr: str, text: str, *, ton: int = 1) -> int:
        """A message from a handset (GSM-7 when it fits, else UCS-2)."""
        try:
            payload, coding = gsm7_encode(text), 0
        except ValueError:
            payload, coding = text.encode("utf-16-be"), 8
        fields = {
            "source_addr_ton": ton,
            "source_addr_npi": 1,
            "source_addr": source_addr,
            "dest_addr_ton": 1,
            "destination_addr": "15005550006",
            "data_coding": coding,
            "short_message": payload,
        }
        return await self.deliver(fields)

    # --- serving ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer)
        self._conns.append(conn)
        try:
            while True:
                header = await reader.readexactly(4)
                pdu = decode(header + await reader.readexactly(frame_length(header) - 4))
                await self._handle(conn, pdu)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if conn in self._conns:
                self._conns.remove(conn)
            writer.transport.abort()

    async def _handle(self, conn: _Conn, pdu: Pdu) -> None:
        if pdu.is_response:
            future = conn.waiting.pop(pdu.sequence, None)
            if future is not None and not future.done():
                future.set_result(pdu)
        elif pdu.command == Command.BIND_TRANSCEIVER:
            status = Status.ROK
            if pdu.get("system_id") != self.system_id:
                status = Status.RINVSYSID
            elif pdu.get("password") != self.password:
                status = Status.RINVPASWD
            self.binds.append(status)
            conn.bound = status == Status.ROK
            conn.writer.write(encode(response_to(pdu, status, system_id="TESTSMSC")))
            async with self._changed:
                self._changed.notify_all()
        elif not conn.bound:
            conn.writer.write(encode(response_to(pdu, Status.RINVBNDSTS)))
        elif pdu.command == Command.ENQUIRE_LINK:
            self.enquire_links += 1
            if self.answer_enquire_link:
                conn.writer.write(encode(response_to(pdu)))
        elif pdu.command == Command.SUBMIT_SM:
            task = asyncio.get_running_loop().create_task(self._submit(conn, pdu))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif pdu.command == Command.UNBIND:
            self.unbinds += 1
            conn.bound = False
            conn.writer.write(encode(response_to(pdu)))
            with contextlib.suppress(ConnectionError):
                await conn.writer.drain()
            conn.writer.close()
        else:
            conn.writer.write(encode(Pdu(Command.GENERIC_NACK, pdu.sequence, Status.RINVCMDID)))

    async def _submit(self, conn: _Conn, pdu: Pdu) -> None:
        self.outstanding += 1
        self.max_outstanding = max(self.max_outstanding, self.outstanding)
        try:
            if self.submit_delay_s:
                await asyncio.sleep(self.submit_delay_s)
        finally:
            self.outstanding -= 1
        status = self._statuses.pop(0) if self._statuses else Status.ROK
        if status != Status.ROK:
            conn.writer.write(encode(response_to(pdu, status)))
            return
        number, self._next_id = self._next_id, self._next_id + 1
        message_id = f"{number:X}" if self.hex_ids else str(number)
        concat, payload = split_udh(pdu.get("esm_class"), pdu.get("short_message"))
        text = decode_text(pdu.get("data_coding"), payload)
        self.submits.append(Submitted(message_id, dict(pdu.fields), concat, text))
        conn.writer.write(encode(response_to(pdu, message_id=message_id)))
