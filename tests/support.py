"""Helpers for tests: a settable clock, a spec-checking API client, payload builders, draining."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from openapi_schema_validator import OAS31Validator
from rq import Queue
from rq.job import Job

from gateway.api.openapi import spec


def free_port() -> int:
    """A loopback port for a test's server, reserved for it until it binds (about a minute).

    A port picked with bind(0) and released at once can be handed to another process (another test
    session, an outgoing connection) before the test's server binds it. So the port is left in
    TIME_WAIT: the kernel gives it to nobody's bind(0) or connect() while that lasts, but a server
    binding it with SO_REUSEADDR (as asyncio, aiohttp and aiosmtpd do) gets it."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port: int = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = listener.accept()
            # The end that closes first is the one left in TIME_WAIT: ours, on `port`.
            accepted.close()
    return port


class Clock:
    """Real time by default; `set()` / `advance()` pin it for policy and scheduling tests."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None
        self.running_since: float | None = None

    def __call__(self) -> datetime:
        if self.fixed is None:
            return datetime.now(UTC)
        if self.running_since is None:
            return self.fixed
        return self.fixed + timedelta(seconds=time.monotonic() - self.running_since)

    def set(self, when: datetime, *, running: bool = False) -> None:
        """Pin the clock at `when`; `running=True` lets it tick on from there in real time."""
        self.fixed = when.astimezone(UTC)
        self.running_since = time.monotonic() if running else None

    def advance(self, **delta: float) -> None:
        self.set(self() + timedelta(**delta), running=self.running_since is not None)


def _operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for template, ops in spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            return template, ops[method.lower()]
    return None


def check_against_spec(
    method: str, path: str, status: int, request_body: Any, response: Any, content_type: str
) -> None:
    """Assert that an exchange matches the OpenAPI document (request bodies of successful calls too)."""
    found = _operation(method, path.split("?")[0])
    assert found is not None, f"{method} {path} is not documented in /openapi.json"
    template, op = found
    responses = op["responses"]
    assert str(status) in responses, (
        f"{method} {template} answered {status}, which is not documented"
    )
    components = {"components": spec()["components"]}
    media = responses[str(status)].get("content", {})
    if "application/json" in media and content_type == "application/json":
        schema = {**media["application/json"]["schema"], **components}
        OAS31Validator(schema).validate(response)
    if 200 <= status < 300 and request_body is not None and "requestBody" in op:
        schema = {**op["requestBody"]["content"]["application/json"]["schema"], **components}
        OAS31Validator(schema).validate(request_body)


class Response:
    def __init__(self, status: int, body: Any, headers: Any):
        self.status, self.body, self.headers = status, body, headers

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body!r}>"


class ApiClient:
    """Talks to the API over HTTP with a key; checks every exchange against the OpenAPI document."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str, settings: Any):
        self.session, self.base, self.key, self.settings = session, base, key, settings

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        data: bytes | str | None = None,
        key: str | None = "default",
        headers: dict[str, str] | None = None,
        check: bool = True,
    ) -> Response:
        hdrs = dict(headers or {})
        if key == "default":
            key = self.key
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        kwargs: dict[str, Any] = {"headers": hdrs}
        if json is not None:
            kwargs["json"] = json
        elif data is not None:
            kwargs["data"] = data
        async with self.session.request(method, self.base + path, **kwargs) as resp:
            ctype = resp.content_type
            body = await resp.json() if ctype == "application/json" else await resp.text()
            if check:
                check_against_spec(method, path, resp.status, json, body, ctype)
            return Response(resp.status, body, resp.headers)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.call("POST", path, json, **kw)

    async def put(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.call("PUT", path, json, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.call("DELETE", path, **kw)


def case_body(
    *,
    name: str = "Jane Doe",
    locale: str = "en",
    phone: str | None = "+14155550123",
    email: str | None = "jane@example.com",
    postal: bool = True,
    preset: str = "TEST-OPEN",
    amount: str = "420.50",
    currency: str = "USD",
) -> dict[str, Any]:
    contacts = []
    if phone:
        contacts.append({"channel": "sms", "address": phone})
    if email:
        contacts.append({"channel": "email", "address": email})
    debtor: dict[str, Any] = {"name": name, "locale": locale}
    if postal:
        debtor["postal_address"] = {
            "lines": ["12 Main St", "Springfield, IL 62701"],
            "country": "US",
            "postal_code": "62701",
        }
    return {
        "debtor": debtor,
        "preset": preset,
        "collector_role": "third_party",
        "debt": {
            "amount": amount,
            "currency": currency,
            "due_date": "2026-10-01",
            "days_past_due": 52,
            "account_number": "4111 1111 1111 1234",
        },
        "contacts": contacts,
    }


def reminder(
    case_ref: str, channel: str = "sms", key: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "case_ref": case_ref,
        "template": "first_notice",
        "channel": channel,
        "idempotency_key": key or f"{case_ref}-{channel}",
        **extra,
    }


async def drain(rt: Any, rounds: int = 50) -> int:
    """Run queued dispatch jobs in-process (same code as the worker's job); return jobs run."""
    from gateway.services.dispatch import dispatch

    ran = 0
    for _ in range(rounds):
        progressed = False
        for name in (rt.keys.dispatch_queue, rt.keys.letters_queue):
            queue = Queue(name, connection=rt.redis)
            while (raw := rt.redis.lpop(queue.key)) is not None:
                job = Job.fetch(raw.decode(), connection=rt.redis)
                await dispatch(rt, list(job.args[0]))
                ran += 1
                progressed = True
        if not progressed:
            break
    return ran


async def release_receipts(rt: Any) -> None:
    """Let the SMS sandbox report every send (held in tests); return once the gateway has answered
    every receipt, so the messages' states already reflect them."""
    receipts = rt.providers["sandbox"].receipts
    receipts.release()
    await receipts.settle()


async def message_state(rt: Any, message_id: str) -> str:
    import sqlalchemy as sa

    from gateway.store.tables import messages

    async with rt.engine.connect() as conn:
        return (
            await conn.execute(sa.select(messages.c.state).where(messages.c.id == message_id))
        ).scalar_one()


def settings_env(settings: Any, **extra: str) -> dict[str, str]:
    """The environment that makes a child process build the same settings."""
    import dataclasses
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GATEWAY_", "SMTP_", "SMS_", "REDIS_"))
    }
    for f in dataclasses.fields(settings):
        name = f.metadata.get("env")
        value = getattr(settings, f.name)
        if name is None or value is None:
            continue
        env[name] = (
            ",".join(value)
            if isinstance(value, list)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
    env.update(LOG_JSON="true", **extra)
    return env


def start_worker(settings: Any, args: Sequence[str] = (), **extra: str) -> Any:
    """A real `reminder-gateway worker` process (with `args`, e.g. `--queue`, and `extra`
    environment); its log goes to `<data dir>/worker-N.log`."""
    import itertools
    import subprocess
    import sys

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for n in itertools.count():
        log_path = settings.data_dir / f"worker-{n}.log"
        if not log_path.exists():
            break
    log_file = open(log_path, "wb")  # noqa: SIM115 — the child owns it
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker", *args],
        env=settings_env(settings, **extra),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    process.log_path = log_path  # type: ignore[attr-defined]
    log_file.close()
    return process


async def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> Any:
    """Await `predicate()` until it returns something truthy; fail after `timeout` seconds."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)


async def scheduler_tick(rt: Any) -> None:
    """One scheduler tick as the leader runs it (`DueWork.pump`: cadences, pauses, due
    messages), then the workers' dispatch."""
    from gateway.services.due_work import DueWork

    await DueWork(rt).pump()
    await drain(rt)


def steps_by_name(cadence: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A `GET …/cadence` body's steps, by name."""
    return {s["name"]: s for s in cadence["steps"]}


async def workers_waiting(rt: Any, count: int, timeout: float = 90) -> None:
    """Return once `count` workers wait on the dispatch queue. Jobs posted then are handed out in
    turn, instead of the first worker up taking all of them while the others still start."""
    import asyncio

    from rq import Queue, Worker

    queue = Queue(rt.keys.dispatch_queue, connection=rt.redis)

    async def all_waiting() -> bool:
        found = await asyncio.to_thread(Worker.all, queue=queue)
        return sum(w.get_state() == "idle" for w in found) == count

    await wait_for(all_waiting, timeout=timeout, interval=0.1)


async def states(rt: Any, ids: list[str]) -> dict[str, str]:
    import sqlalchemy as sa

    from gateway.store.tables import messages

    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(messages.c.id, messages.c.state).where(messages.c.id.in_(ids))
        )
        return {r.id: r.state for r in rows}


async def add_template(
    settings: Any,
    key: str,
    channel: str,
    body: str,
    *,
    purpose: str = "reminder",
    locale: str = "en",
    subject: str | None = None,
    html: str | None = None,
) -> None:
    """Publish a template version straight into the database, as operations would have."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from gateway.store.engine import create_engine
    from gateway.store.tables import template_versions

    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(template_versions).values(
                    key=key,
                    channel=channel,
                    locale=locale,
                    version=1,
                    status="published",
                    subject=subject,
                    body=body,
                    html=html,
                    meta={"purpose": purpose},
                    author="test",
                    created_at=datetime.now(UTC),
                )
            )
    finally:
        await engine.dispose()


async def sms_reply(api: Any, body: str, *, phone: str = "+14155550123") -> dict[str, Any]:
    """A debtor's text through the SMS sandbox's inbound callback; the stored reply."""
    resp = await api.post(
        "/v1/providers/sandbox/inbound", {"from": phone, "to": "+15005550006", "body": body}
    )
    assert resp.status == 200, resp.body
    [stored] = resp.body["replies"]
    return dict(stored)


async def email_reply(rt: Any, port: int, case_ref: str, text: str) -> None:
    """A debtor's email to the case's signed reply address, through the gateway's SMTP receiver."""
    from email.message import EmailMessage

    import aiosmtplib
    import sqlalchemy as sa

    from channels.email.tokens import reply_address
    from gateway.store.tables import cases

    async with rt.engine.connect() as conn:
        case_id = (
            await conn.execute(sa.select(cases.c.id).where(cases.c.case_ref == case_ref))
        ).scalar_one()
    to = reply_address(rt.settings.secret, case_id, rt.settings.reply_domain)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "jane@example.com", to, "Re: your account"
    mail["Message-ID"] = f"<{case_ref}@mail.example>"
    mail.set_content(text)
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)
