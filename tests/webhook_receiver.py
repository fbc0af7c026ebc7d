"""An upstream system's webhook endpoint for tests: a real aiohttp server that verifies EVERY
request's signature with the `standardwebhooks` reference library and keeps what it received.

`answer` sets what it replies (200, 503…); `stop()` closes its port (connections are refused)
and `start()` opens it again on the same port.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support import free_port


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.secret: str | None = None
        self.answer = 200
        self.received: list[dict[str, Any]] = []  # verified bodies, in arrival order
        self.ids: list[str] = []  # their webhook-id headers
        self.refused: list[str] = []  # why a request's signature did not verify
        self.attempts = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        raw = await request.read()
        try:
            assert self.secret is not None, "no secret given to the receiver"
            body = Webhook(self.secret).verify(raw, dict(request.headers))
        except (WebhookVerificationError, AssertionError) as exc:
            self.refused.append(str(exc))
            return web.Response(status=401)
        if self.answer >= 300:
            return web.Response(status=self.answer)
        self.received.append(body)
        self.ids.append(request.headers["webhook-id"])
        return web.Response(status=self.answer)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [b for b in self.received if b["type"] == event_type]
