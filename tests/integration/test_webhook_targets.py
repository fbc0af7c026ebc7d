"""Webhooks outside development: never pointed at the gateway's own machine or network (refused
at registration, and again after DNS at every delivery), and their signing secrets sealed at
rest (a copy of the rows alone cannot sign an event)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.sealed import Sealer
from gateway.services.webhook_delivery import Deliverer
from gateway.services.webhook_targets import PublicResolver
from gateway.settings import Settings
from gateway.store.tables import webhooks as W
from tests.support import ApiClient, case_body
from tests.webhook_receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # As in production: the suite's own settings are development's, which allow local receivers.
    return settings.with_(webhook_allow_private=False)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    await got.start()
    yield got
    await got.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hooks",
        "http://localhost:8080/hooks",
        "http://LocalHost./hooks",
        "http://api.localhost/hooks",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.10/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:8080/hooks",
        "http://100.64.0.1/hooks",
    ],
)
async def test_a_url_on_this_machine_or_a_private_network_is_refused(
    api: ApiClient, url: str
) -> None:
    resp = await api.post("/v1/webhooks", {"url": url, "events": ["case.state_changed"]})
    assert resp.status == 422, resp.body
    assert resp.body["error"]["code"] == "webhook_url_not_public"
    assert "WEBHOOK_ALLOW_PRIVATE" in resp.body["error"]["message"]
    assert (await api.get("/v1/webhooks")).body["webhooks"] == []


async def test_the_secret_is_kept_sealed_and_shown_only_once(api: ApiClient, runtime: Any) -> None:
    resp = await api.post(
        "/v1/webhooks", {"url": "https://hooks.example.com/in", "events": ["reply.received"]}
    )
    assert resp.status == 201, resp.body
    shown = resp.body["secret"]
    async with runtime.engine.connect() as conn:
        stored = (await conn.execute(sa.select(W.c.secret))).scalar_one()
    assert stored.startswith("v1.") and shown not in stored and shown[6:] not in stored
    assert Sealer(runtime.settings.secret, "webhook-secrets").open(stored) == shown
    # Another GATEWAY_SECRET cannot open it.
    with pytest.raises(ValueError, match="another GATEWAY_SECRET"):
        Sealer("another secret entirely, long enough", "webhook-secrets").open(stored)


def _loopback_name() -> str:
    """A name of this machine that is not `localhost` and resolves to a loopback address."""
    name = socket.gethostname()
    try:
        found = {a[4][0] for a in socket.getaddrinfo(name, 80, socket.AF_INET)}
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if not all(a.startswith("127.") for a in found):
        pytest.skip(f"this machine's name {name!r} resolves to {found}, not to loopback")
    return name


async def test_a_delivery_never_connects_to_a_url_re_pointed_at_this_machine(
    api: ApiClient, runtime: Any, receiver: Receiver
) -> None:
    created = await api.post(
        "/v1/webhooks", {"url": "https://hooks.example.com/in", "events": ["case.state_changed"]}
    )
    hook = created.body["id"]
    receiver.secret = created.body["secret"]
    deliver = Deliverer(runtime)
    try:
        urls = (receiver.url, f"http://{_loopback_name()}:{receiver.port}/hooks")
        for n, url in enumerate(urls):
            # The row re-pointed after registration (an edited row, or a name whose DNS record
            # now points inside): each delivery checks again, by address and after resolving.
            async with runtime.engine.begin() as conn:
                await conn.execute(sa.update(W).where(W.c.id == hook).values(url=url))
            # A case of its own each time: a case's events wait behind its first failed one.
            await api.put(f"/v1/cases/T-{n}", case_body())
            resp = await api.post(f"/v1/cases/T-{n}/events", {"type": "hold", "hold": "legal"})
            assert resp.status == 200, resp.body
            assert await deliver() == 1
    finally:
        await deliver.close()
    assert receiver.attempts == 0
    listed = (await api.get(f"/v1/webhooks/{hook}/deliveries")).body["deliveries"]
    errors = {d["last_error"] for d in listed if d["attempts"]}
    assert any(e.startswith("refused: 127.0.0.1 is not a public address") for e in errors), errors
    assert any("resolves to no public address" in e for e in errors), errors
    assert {d["state"] for d in listed} == {"pending"}


async def test_the_resolver_keeps_only_public_addresses() -> None:
    resolver = PublicResolver()
    try:
        with pytest.raises(OSError, match="no public address"):
            await resolver.resolve(_loopback_name(), 80)
    finally:
        await resolver.close()
