"""A small, fast, local Twilio-compatible Messages endpoint for the benchmark.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies, pipelined requests) to answer
`POST /2010-04-01/Accounts/{sid}/Messages.json` with 201 and a fresh message sid, the way Twilio
does. It sends no status callbacks. A raw asyncio protocol rather than an aiohttp app, so that the
provider side costs as little CPU as possible on the machine being measured.

    python -m bench.smsserver --port 8125
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

MAX_HEADER = 64 * 1024


class MessagesProtocol(asyncio.Protocol):
    served = 0

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = bytearray()
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER:
                    self._close()
                break
            head = bytes(self.buffer[:end])
            total = end + 4 + _content_length(head)
            if len(self.buffer) < total:
                break
            del self.buffer[:total]
            out += self._answer(head)
        # Answers to pipelined requests leave in one write.
        if out and self.transport is not None:
            self.transport.write(bytes(out))

    def _answer(self, head: bytes) -> bytes:
        line = head.split(b"\r\n", 1)[0]
        method, _, rest = line.partition(b" ")
        path = rest.partition(b" ")[0]
        if method == b"POST" and path.endswith(b"/Messages.json"):
            MessagesProtocol.served += 1
            sid = f"SM{MessagesProtocol.served:032x}"
            body = (
                f'{{"sid":"{sid}","status":"queued","num_segments":"1","api_version":"2010-04-01"}}'
            ).encode()
            return _response(b"201 Created", body)
        if method == b"GET" and path == b"/healthz":
            return _response(b"200 OK", f'{{"served":{MessagesProtocol.served}}}'.encode())
        return _response(b"404 Not Found", b'{"code":20404,"message":"not found","status":404}')

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    start = at + len(b"\r\ncontent-length:")
    stop = lower.find(b"\r\n", start)
    return int(lower[start : stop if stop >= 0 else len(lower)].strip() or 0)


def _response(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: keep-alive\r\n\r\n"
        + body
    )


async def serve(host: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(MessagesProtocol, host, port, backlog=1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    async def run() -> None:
        server = await serve(args.host, args.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.close()
        print(f"sms server served {MessagesProtocol.served} messages", flush=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
