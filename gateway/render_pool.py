"""Template input from the API renders in a separate process, killed and replaced when it overruns.

The budgeted sandbox (`gateway.sandbox`) already stops a template after a few hundred
milliseconds of work, but a template posted to `/v1/templates/lint` is anyone's input, and a gap
in those limits must cost one child process, not the API's event loop or its memory. So such
renders go to a small pool of processes created on first use: each job has a hard deadline, a
child that misses it is killed (SIGKILL: nothing in it can hold us up) and a fresh one started,
and each child's address space is capped so that a runaway allocation fails inside it.

Children are spawned, not forked: the API process runs an event loop and threads, which a fork
would copy in an unknown state. A child loads the settings and presets once, like a worker.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import structlog

from gateway import errors
from gateway.errors import GatewayError, Unavailable, ValidationFailed

log = structlog.get_logger()

# The hard deadline, wall clock. The API promises a refusal within a second, and on a busy machine
# the sandbox's half second of CPU can take longer than that: the deadline leaves a quarter
# second for the answer's way back.
TIMEOUT_S = 0.75
START_TIMEOUT_S = 60.0
MEMORY_HEADROOM = 1 << 30  # bytes a child may grow by over what its imports take


def _cap_memory() -> None:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
        limit = pages * resource.getpagesize() + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):  # not Linux: the deadline still holds
        pass


def _serve(conn: Connection, setup: Callable[[], Any]) -> None:
    """A child's loop: `(func, args)` in, `("ok", result)` or `("error", error fields)` out."""
    state = setup()
    _cap_memory()
    conn.send(("ready", None))
    while True:
        try:
            func, args = conn.recv()
        except EOFError:  # the parent is gone
            return
        try:
            conn.send(("ok", func(state, *args)))
        except GatewayError as exc:
            conn.send(("error", (type(exc).__name__, exc.message, exc.code, exc.details)))
        except MemoryError:
            conn.send(("error", ("ValidationFailed", "out of memory", "template_too_costly", [])))


class _Child:
    def __init__(self, setup: Callable[[], Any]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, theirs = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(theirs, setup), daemon=True)
        self.process.start()
        theirs.close()
        self.started = False

    async def start(self) -> None:
        """Wait until the child has loaded; `Unavailable` if it cannot."""
        if self.started:
            return
        try:
            kind, _ = await self.receive(START_TIMEOUT_S)
        except (TimeoutError, EOFError, OSError):
            kind = "failed"
        if kind != "ready":
            self.kill()
            raise Unavailable("the template renderer could not start; retry shortly")
        self.started = True

    async def receive(self, timeout: float) -> tuple[str, Any]:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, wake)
        try:
            async with asyncio.timeout(timeout):
                await readable
        finally:
            loop.remove_reader(fd)
        reply: tuple[str, Any] = self.conn.recv()
        return reply

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


class RenderPool:
    """Up to `size` child processes running `func(state, *args)`, where `state = setup()` is
    built once in each child. `setup` and `func` must be importable module-level functions."""

    def __init__(self, setup: Callable[[], Any], *, size: int = 2, timeout_s: float = TIMEOUT_S):
        self.setup, self.timeout_s = setup, timeout_s
        self._idle: list[_Child] = []
        self._closed = False
        self._slots = asyncio.Semaphore(size)

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """`func(state, *args)` in a child; a `GatewayError` it raises is raised here. A child that
        takes longer than the timeout, or dies, is replaced and the job refused (422)."""
        async with self._slots:
            child = self._idle.pop() if self._idle else _Child(self.setup)
            try:
                await child.start()
                child.conn.send((func, args))
                kind, value = await child.receive(self.timeout_s)
            except (TimeoutError, EOFError, OSError) as exc:
                self._replace(child, type(exc).__name__)
                raise ValidationFailed(
                    f"template is too costly to render: no result within {self.timeout_s:g} s",
                    code="template_too_costly",
                ) from None
            except BaseException:  # cancelled: the child's answer would be read by the next job
                self._replace(child, "cancelled")
                raise
            self._idle.append(child)
        if kind == "ok":
            return value
        name, message, code, details = value
        error = getattr(errors, name, GatewayError)
        raise error(message, details=details, code=code)

    def _replace(self, child: _Child, reason: str) -> None:
        child.kill()
        # Spawned once the refusal is on its way (spawning takes tens of milliseconds on the
        # loop), to be ready for the next job.
        asyncio.get_running_loop().call_soon(self._spawn)
        log.warning("render_child_replaced", reason=reason)

    def _spawn(self) -> None:
        if not self._closed:
            self._idle.append(_Child(self.setup))

    def close(self) -> None:
        self._closed = True
        for child in self._idle:
            child.kill()
        self._idle.clear()
