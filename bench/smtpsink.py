"""A minimal, fast asyncio SMTP sink: accepts every mail and throws it away.

It speaks enough SMTP for aiosmtplib and smtplib (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
one command at a time (no PIPELINING is advertised). aiosmtpd would do, but costs several times
the CPU per mail, and on the 2-core bench machine the sink competes with what is being measured.

    python -m bench.smtpsink --port 8025
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

EHLO = b"250-sink.local\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 33554432\r\n"
END_OF_DATA = b"\r\n.\r\n"


class SinkProtocol(asyncio.Protocol):
    accepted = 0
    connections = 0

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        SinkProtocol.connections += 1
        transport.write(b"220 sink.local ESMTP ready\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = bytearray()
        closing = False
        while not closing:
            if self.in_data:
                at = self.buffer.find(END_OF_DATA)
                if at < 0:
                    # Keep only what could still be the start of a terminator.
                    if len(self.buffer) > 4:
                        del self.buffer[: len(self.buffer) - 4]
                    break
                del self.buffer[: at + len(END_OF_DATA)]
                self.in_data = False
                SinkProtocol.accepted += 1
                out += b"250 2.0.0 Ok: queued\r\n"
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                if len(self.buffer) > 4096:
                    out += b"500 line too long\r\n"
                    closing = True
                break
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            verb = line[:4].upper()
            if verb == b"EHLO":
                out += EHLO
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                out += b"250 2.0.0 Ok\r\n"
            elif verb == b"DATA":
                self.in_data = True
                # Stands for the CRLF that ended the DATA line, so that an empty body's lone
                # ".\r\n" is found as the same terminator as any other.
                self.buffer[:0] = b"\r\n"
                out += b"354 End data with <CR><LF>.<CR><LF>\r\n"
            elif verb == b"QUIT":
                out += b"221 2.0.0 Bye\r\n"
                closing = True
            else:
                out += b"502 5.5.2 Command not recognized\r\n"
        if self.transport is not None:
            if out:
                self.transport.write(bytes(out))
            if closing:
                self.transport.close()


async def serve(host: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(SinkProtocol, host, port, backlog=1024)


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
        print(
            f"smtp sink accepted {SinkProtocol.accepted} mails over "
            f"{SinkProtocol.connections} connections",
            flush=True,
        )

    asyncio.run(run())


if __name__ == "__main__":
    main()
