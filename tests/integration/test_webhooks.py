"""Outbound webhooks, the API: registration and its refusals, one key's webhooks hidden from
another, the secret shown once, deletion."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.setup import create_key
from tests.support import ApiClient

HOOK = "http://127.0.0.1:9/hooks"


async def test_registration_answers_the_secret_once_in_the_standard_format(
    api: ApiClient, capfd: pytest.CaptureFixture[str]
) -> None:
    resp = await api.post("/v1/webhooks", {"url": HOOK, "events": ["message.state_changed"]})
    assert resp.status == 201, resp.body
    created = resp.body
    assert created["id"].startswith("wh_") and created["secret"].startswith("whsec_")
    assert created["events"] == ["message.state_changed"]
    listed = (await api.get("/v1/webhooks")).body["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    gone = await api.call("DELETE", f"/v1/webhooks/{created['id']}")
    assert gone.status == 200 and gone.body["id"] == created["id"]
    assert (await api.get("/v1/webhooks")).body["webhooks"] == []
    again = await api.call("DELETE", f"/v1/webhooks/{created['id']}")
    assert again.status == 404
    logged = "".join(capfd.readouterr())
    assert "route=/v1/webhooks" in logged or "/v1/webhooks" in logged
    assert created["secret"] not in logged and created["secret"][6:] not in logged


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"url": "ftp://example.com/x", "events": ["reply.received"]}, "http or https"),
        ({"url": "file:///etc/passwd", "events": ["reply.received"]}, "http or https"),
        ({"url": "javascript:alert(1)", "events": ["reply.received"]}, "http or https"),
        ({"url": "https://", "events": ["reply.received"]}, "no host"),
        ({"url": "https://example.com/x", "events": ["message.exploded"]}, "events"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x"}, "events"),
    ],
)
async def test_bad_registrations_are_422_and_say_why(
    api: ApiClient, body: dict[str, Any], why: str
) -> None:
    resp = await api.post("/v1/webhooks", body)
    assert resp.status == 422, resp.body
    assert why in str(resp.body["error"]), resp.body
    assert (await api.get("/v1/webhooks")).body["webhooks"] == []


async def test_another_keys_webhook_is_unknown_to_it(api: ApiClient, settings: Any) -> None:
    mine = (await api.post("/v1/webhooks", {"url": HOOK, "events": ["case.state_changed"]})).body
    other = await create_key(settings, scopes=["cases:read", "cases:write"], name="other")
    assert (await api.get("/v1/webhooks", key=other)).body["webhooks"] == []
    for method, path in (
        ("DELETE", f"/v1/webhooks/{mine['id']}"),
        ("GET", f"/v1/webhooks/{mine['id']}/deliveries"),
        ("POST", f"/v1/webhooks/{mine['id']}/deliveries/1/redeliver"),
    ):
        resp = await api.call(method, path, key=other)
        assert resp.status == 404, (method, path, resp.body)
    assert [w["id"] for w in (await api.get("/v1/webhooks")).body["webhooks"]] == [mine["id"]]


async def test_scopes_manage_with_cases_write_and_list_with_cases_read(
    api: ApiClient, settings: Any
) -> None:
    reader = await create_key(settings, scopes=["cases:read"], name="reader")
    refused = await api.post(
        "/v1/webhooks", {"url": HOOK, "events": ["reply.received"]}, key=reader
    )
    assert refused.status == 403
    assert (await api.get("/v1/webhooks", key=reader)).status == 200
    sender = await create_key(settings, scopes=["reminders:write"], name="sender")
    assert (await api.get("/v1/webhooks", key=sender)).status == 403


async def test_bad_paths_are_4xx(api: ApiClient) -> None:
    assert (await api.call("DELETE", "/v1/webhooks/nope")).status == 422
    hook = (await api.post("/v1/webhooks", {"url": HOOK, "events": ["reply.received"]})).body
    assert (await api.get(f"/v1/webhooks/{hook['id']}/deliveries?limit=0")).status == 422
    assert (await api.get(f"/v1/webhooks/{hook['id']}/deliveries?after=x")).status == 422
    missing = await api.post(f"/v1/webhooks/{hook['id']}/deliveries/7/redeliver")
    assert missing.status == 404


async def test_no_query_per_message_without_webhooks_and_a_registration_is_seen_at_once(
    api: ApiClient, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    from gateway.store import webhooks as webhook_store
    from tests.support import case_body, drain, reminder

    monkeypatch.setattr(webhook_store, "CACHE_S", 3600.0)  # no expiry during the test
    webhook_store.forget()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(runtime.engine.sync_engine, "before_cursor_execute", seen)
    await api.put("/v1/cases/Q-1", case_body())
    for n in range(5):
        await api.post("/v1/reminders", reminder("Q-1", "sms", key=f"q{n}"))
    assert await drain(runtime) == 5
    reads = [s for s in statements if "FROM webhooks" in s]
    assert len(reads) == 1, reads  # the first job's; the other four asked the cache
    assert not [s for s in statements if "webhook_deliveries" in s]

    await api.post("/v1/webhooks", {"url": HOOK, "events": ["message.state_changed"]})
    await api.post("/v1/reminders", reminder("Q-1", "sms", key="after"))
    assert await drain(runtime) == 1
    assert len([s for s in statements if "FROM webhooks" in s]) == 2
    assert [s for s in statements if "INSERT INTO webhook_deliveries" in s]
    sa.event.remove(runtime.engine.sync_engine, "before_cursor_execute", seen)
