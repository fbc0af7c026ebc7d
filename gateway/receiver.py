"""`reminder-gateway receiver`: the gateway's SMTP receiver, storing bounces and replies.

Point the MX records of BOUNCE_DOMAIN and REPLY_DOMAIN at it. It stores through the same services
as the HTTP callbacks (`DatabaseSink`), so a bounce is a receipt and a reply is a reply.
"""

from __future__ import annotations

import asyncio
import signal

import structlog

from channels.email.receiver import MailReceiver, serve
from gateway import gc_tuning
from gateway.bootstrap import Runtime, open_runtime, warm_up_replies
from gateway.services.sink import DatabaseSink
from gateway.settings import Settings

log = structlog.get_logger()
# The reply classifier's warm-up of each receiver started (`bootstrap.warm_up_replies`), held
# until it is done.
WARMING: set[asyncio.Task[None]] = set()


async def start_receiver(
    rt: Runtime, *, host: str | None = None, port: int | None = None
) -> asyncio.Server:
    """Listen on the runtime's loop (RECEIVER_HOST / RECEIVER_PORT unless given), training the
    reply classifier's model meanwhile in a thread (`WARMING`)."""
    settings = rt.settings
    warming = warm_up_replies(settings)
    WARMING.add(warming)
    warming.add_done_callback(WARMING.discard)
    handler = MailReceiver(
        DatabaseSink(rt),
        secret=settings.secret,
        bounce_domain=settings.bounce_domain,
        reply_domain=settings.reply_domain,
        clock=rt.clock,
    )
    return await serve(
        handler,
        host or settings.receiver_host,
        settings.receiver_port if port is None else port,
        max_bytes=settings.receiver_max_bytes,
    )


async def run_receiver(settings: Settings) -> None:
    """Serve until SIGINT / SIGTERM."""
    rt = await open_runtime(settings)
    server = await start_receiver(rt)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gc_tuning.settle()
    log.info("smtp_receiver_started", host=settings.receiver_host, port=settings.receiver_port)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.gather(*WARMING)
        await rt.close()
