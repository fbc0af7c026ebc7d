"""An asyncio ESME: one bind_transceiver session to an SMSC, kept bound for the process's life.

- Reconnects by itself, with exponential backoff, when the TCP connection drops, the SMSC
  unbinds, a bind is refused, or an enquire_link goes unanswered.
- Requests and responses are matched by sequence number (sequence → Future); at most `window`
  submit_sm wait for their response at a time, so a slow SMSC slows senders instead of piling up.
- After ESME_RTHROTTLED / ESME_RMSGQFUL the `Pacer` spaces submits out for a while.
- deliver_sm is handed to `on_deliver`, whose returned status is answered in deliver_sm_resp; a
  handler that raises is answered ESME_RX_T_APPN, which makes the SMSC deliver it again later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from channels.sms.smpp.pacer import Pacer
from channels.sms.smpp.pdu import Command, Pdu, PduError, Status, decode, encode, frame_length
from channels.sms.smpp.pdu import response_to as respond

log = structlog.get_logger()

DeliverHandler = Callable[[Pdu], Awaitable[int]]
INTERFACE_VERSION = 0x34


class SessionError(Exception):
    """The session cannot carry a request right now."""


class NotBound(SessionError):
    """No bound session (connecting, reconnecting, or the SMSC refused the bind)."""


class ConnectionLost(SessionError):
    """The connection closed while a request waited for its response."""


class BindRefused(Exception):
    def __init__(self, status: int):
        super().__init__(f"bind refused: 0x{status:08X}")
        self.status = status


class Esme:
    """One SMPP transceiver session with reconnect, window, keep-alive and deliver_sm handling."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        system_id: str,
        password: str,
        system_type: str = "",
        on_deliver: DeliverHandler,
        window: int = 10,
        enquire_link_s: float = 30.0,
        timeout_s: float = 10.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
    ):
        self.host, self.port = host, port
        self.credentials = {"system_id": system_id, "password": password}
        self.system_type = system_type
        self.on_deliver = on_deliver
        self.enquire_link_s, self.timeout_s = enquire_link_s, timeout_s
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self.pacer = Pacer()
        self.bind_status: int | None = None  # status of the last refused bind, until one succeeds
        self.sessions = 0  # binds that succeeded, for tests and metrics
        self._window = asyncio.Semaphore(window)
        self._handlers = asyncio.Semaphore(window)
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._seq = 0
        self._writer: asyncio.StreamWriter | None = None
        self._bound = asyncio.Event()
        self._tried = asyncio.Event()  # a first bind attempt has come to an end, either way
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    async def start(self, wait_s: float | None = None) -> None:
        """Start connecting; wait up to `wait_s` for the first bind's outcome. Never raises: a
        session that cannot bind yet keeps trying in the background."""
        if self._runner is None:
            self._stop.clear()
            self._runner = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), self.timeout_s if wait_s is None else wait_s)
        if not self._bound.is_set():
            log.warning("smpp_not_bound_yet", host=self.host, port=self.port)

    async def wait_bound(self, timeout: float) -> bool:
        """Whether a session is bound, waiting up to `timeout` seconds for one."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._bound.wait(), timeout)
        return self._bound.is_set()

    async def submit(self, fields: dict[str, Any], tlvs: dict[int, bytes] | None = None) -> Pdu:
        """Send one submit_sm and return its response, whatever its status.

        Raises TimeoutError when no response comes in time, `NotBound` or `ConnectionLost`.
        """
        async with self._window:
            await self.pacer.slot()
            pdu = Pdu(Command.SUBMIT_SM, self._next_seq(), fields=fields, tlvs=tlvs or {})
            resp = await self._request(pdu, self.timeout_s, need_bound=True)
        if resp.status in (Status.RTHROTTLED, Status.RMSGQFUL):
            self.pacer.throttled()
        return resp

    async def close(self) -> None:
        """Answer the receipts in hand, unbind, and stop reconnecting."""
        self._stop.set()
        if self._bound.is_set():
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=self.timeout_s)
            try:
                await self._request(
                    Pdu(Command.UNBIND, self._next_seq()), min(2.0, self.timeout_s), True
                )
            except (TimeoutError, SessionError):
                log.info("smpp_unbind_unanswered")
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        for task in list(self._tasks):
            task.cancel()

    # --- the session loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.reconnect_min_s
        while not self._stop.is_set():
            try:
                await self._session()
                delay = self.reconnect_min_s  # it was bound: come back quickly
            except BindRefused as exc:
                self.bind_status = exc.status
                log.error("smpp_bind_refused", status=f"0x{exc.status:08X}", host=self.host)
            except (OSError, TimeoutError, PduError, SessionError) as exc:
                log.warning("smpp_connection_failed", error=type(exc).__name__, host=self.host)
            except Exception:  # noqa: BLE001 — a bug must not end reconnecting for good
                log.exception("smpp_session_crashed", host=self.host)
            self._tried.set()
            if self._stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(delay * 2, self.reconnect_max_s)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout_s
        )
        self._writer = writer
        reading = asyncio.get_running_loop().create_task(self._read(reader, writer))
        keepalive: asyncio.Task[None] | None = None
        try:
            bind = Pdu(
                Command.BIND_TRANSCEIVER,
                self._next_seq(),
                fields={
                    **self.credentials,
                    "system_type": self.system_type,
                    "interface_version": INTERFACE_VERSION,
                },
            )
            resp = await self._request(bind, self.timeout_s, need_bound=False)
            if resp.status != Status.ROK:
                raise BindRefused(resp.status)
            self.bind_status = None
            self.sessions += 1
            self._bound.set()
            self._tried.set()
            log.info("smpp_bound", host=self.host, port=self.port, session=self.sessions)
            keepalive = asyncio.get_running_loop().create_task(self._keepalive(writer))
            await reading
            log.warning("smpp_session_ended", host=self.host)
        finally:
            self._bound.clear()
            self._writer = None
            for task in (keepalive, reading):
                if task is not None:
                    task.cancel()
            await asyncio.gather(
                *(t for t in (keepalive, reading) if t is not None), return_exceptions=True
            )
            writer.transport.abort()

    async def _keepalive(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self.enquire_link_s)
            try:
                await self._request(
                    Pdu(Command.ENQUIRE_LINK, self._next_seq()),
                    min(self.timeout_s, self.enquire_link_s),
                    need_bound=True,
                )
            except (TimeoutError, SessionError):
                log.warning("smpp_enquire_link_unanswered", host=self.host)
                writer.transport.abort()  # the read loop sees the end and the session restarts
                return

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(4)
                data = header + await reader.readexactly(frame_length(header) - 4)
                await self._received(data, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost("smpp: connection lost"))

    async def _received(self, data: bytes, writer: asyncio.StreamWriter) -> None:
        try:
            pdu = decode(data)
        except PduError as exc:
            log.warning("smpp_bad_pdu", reason=str(exc), command=exc.command)
            if exc.command is not None and exc.sequence is not None and exc.command < 0x80000000:
                nack = Pdu(Command.GENERIC_NACK, exc.sequence, Status.RINVCMDLEN)
                self._write(writer, nack)
            return
        if pdu.is_response:
            future = self._pending.get(pdu.sequence)
            if future is not None and not future.done():
                future.set_result(pdu)
        elif pdu.command == Command.ENQUIRE_LINK:
            self._write(writer, respond(pdu))
        elif pdu.command == Command.DELIVER_SM:
            await self._handlers.acquire()  # back-pressure: stop reading while handlers are full
            task = asyncio.get_running_loop().create_task(self._deliver(pdu, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif pdu.command == Command.UNBIND:
            log.warning("smpp_unbound_by_smsc", host=self.host)
            self._bound.clear()
            self._write(writer, respond(pdu))
            writer.close()
        else:
            self._write(writer, Pdu(Command.GENERIC_NACK, pdu.sequence, Status.RINVCMDID))

    async def _deliver(self, pdu: Pdu, writer: asyncio.StreamWriter) -> None:
        try:
            status = await self.on_deliver(pdu)
        except Exception as exc:  # noqa: BLE001 — answered with a retry status, never dropped
            # The error's type only: database errors quote their parameters (numbers, texts).
            log.error("smpp_deliver_failed", sequence=pdu.sequence, error=type(exc).__name__)
            status = Status.RX_T_APPN
        finally:
            self._handlers.release()
        if not self._write(writer, respond(pdu, status, message_id="")):
            log.warning("smpp_deliver_resp_lost", sequence=pdu.sequence, status=status)

    # --- plumbing -----------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1  # 1 … 2^31-1, as SMPP 3.4 allows
        return self._seq

    def _write(self, writer: asyncio.StreamWriter, pdu: Pdu) -> bool:
        if writer.is_closing():
            return False
        writer.write(encode(pdu))
        return True

    async def _request(self, pdu: Pdu, timeout: float, need_bound: bool) -> Pdu:
        writer = self._writer
        if writer is None or (need_bound and not self._bound.is_set()):
            raise NotBound("smpp: not bound")
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pending[pdu.sequence] = future
        try:
            if not self._write(writer, pdu):
                raise ConnectionLost("smpp: connection closing")
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(pdu.sequence, None)
