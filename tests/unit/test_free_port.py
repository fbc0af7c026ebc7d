"""`free_port()` reserves the port it returns until a test's server binds it."""

from __future__ import annotations

import errno
import socket

import pytest

from tests.support import free_port


def test_the_port_is_reserved_against_everyone_else() -> None:
    port = free_port()
    # Another process binding it (no SO_REUSEADDR, as bind(0) and connect() allocate) is refused,
    # so nobody takes it between the test picking it and its server binding it...
    with socket.socket() as other, pytest.raises(OSError) as taken:
        other.bind(("127.0.0.1", port))
    assert taken.value.errno == errno.EADDRINUSE
    # ...while a server binding it the way asyncio, aiohttp and aiosmtpd do gets it.
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def test_nothing_listens_on_it() -> None:
    with socket.socket() as client, pytest.raises(ConnectionRefusedError):
        client.connect(("127.0.0.1", free_port()))
