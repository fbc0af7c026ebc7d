"""The content gate through the API: template lint, and the check again when a message renders
(compliance.md §6.9 #6: a time-barred US debt and a template saying "lawsuit")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gateway.setup import create_key
from gateway.store.templates import load_pack
from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder

THREAT = (
    "{{ collector.name }}: {{ debtor.first_name }}, your account ending {{ debt.account | mask }} "
    "is past due. Pay now to avoid a lawsuit. This is from a debt collector. "
    "Reply STOP to opt out."
)


async def publish(api: ApiClient, key: str, body: str, channel: str = "sms") -> None:
    """A test-only published template version, as operations would publish one."""
    from gateway.store.engine import create_engine
    from gateway.store.tables import template_versions

    engine = create_engine(api.settings)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(template_versions).values(
                key=key,
                channel=channel,
                locale="en",
                version=1,
                status="published",
                subject=None,
                body=body,
                html=None,
                meta={},
                author="test",
                created_at=datetime.now(UTC),
            )
        )
    await engine.dispose()


def us_case(phone: str, email: str, *, sol_expired: bool) -> dict[str, Any]:
    body = case_body(preset="US-RegF", phone=phone, email=email)
    body["debt"] = {**body["debt"], "sol_expired": sol_expired}
    return body


async def test_a_time_barred_debt_never_gets_a_lawsuit_threat(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    # Wednesday 18 November 2026, 14:00 in Illinois (the address) and 12:00 in California (the
    # mobile): inside every candidate zone's window, so only the content decides.
    clock.set(at("2026-11-18T14:00:00-06:00"))
    await publish(api, "barred_reminder", THREAT)
    await api.put("/v1/cases/SOL-1", us_case("+14155550111", "a@example.com", sol_expired=True))
    await api.put("/v1/cases/SOL-2", us_case("+14155550122", "b@example.com", sol_expired=False))
    assert (await api.get("/v1/cases/SOL-1")).body["debt"]["sol_expired"] is True
    barred = await api.post("/v1/reminders", {**reminder("SOL-1"), "template": "barred_reminder"})
    fresh = await api.post("/v1/reminders", {**reminder("SOL-2"), "template": "barred_reminder"})
    await drain(runtime)

    message = (await api.get(f"/v1/messages/{barred.body['id']}")).body
    assert message["state"] == "suppressed"
    assert message["state_reason"].startswith("content.forbidden")
    [entry] = [h for h in message["history"] if h["kind"] == "suppressed"]
    assert entry["data"]["rule"] == "content.forbidden"
    assert entry["data"]["preset"] == "US-RegF"
    assert "lawsuit" in entry["data"]["reason"]
    timeline = (await api.get("/v1/cases/SOL-1/timeline")).body["entries"]
    assert any(e["data"].get("rule") == "content.forbidden" for e in timeline)

    sent = (await api.get(f"/v1/messages/{fresh.body['id']}")).body
    assert sent["state"] == "sent" and "lawsuit" in sent["rendered"]["body"]


async def test_a_template_without_the_required_blocks_is_suppressed_at_send(
    api: ApiClient, runtime: Any
) -> None:
    await publish(api, "bare", "Please pay by Friday. Reply STOP to opt out.")
    await api.put("/v1/cases/REQ-1", case_body())
    accepted = await api.post("/v1/reminders", {**reminder("REQ-1"), "template": "bare"})
    await drain(runtime)
    message = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert message["state"] == "suppressed"
    [entry] = [h for h in message["history"] if h["kind"] == "suppressed"]
    assert entry["data"]["rule"] == "content.required"
    assert "collector_identity" in entry["data"]["reason"]


async def test_the_pack_words_the_collector_disclosure_by_role(
    api: ApiClient, runtime: Any
) -> None:
    third = case_body(phone="+14155550133", email=None)
    first = {**case_body(phone="+14155550144", email=None), "collector_role": "first_party"}
    await api.put("/v1/cases/ROLE-3", third)
    await api.put("/v1/cases/ROLE-1", first)
    by_third = await api.post("/v1/reminders", reminder("ROLE-3"))
    by_first = await api.post("/v1/reminders", reminder("ROLE-1"))
    await drain(runtime)
    third_sms = (await api.get(f"/v1/messages/{by_third.body['id']}")).body
    first_sms = (await api.get(f"/v1/messages/{by_first.body['id']}")).body
    assert third_sms["state"] == first_sms["state"] == "sent"
    assert "from a debt collector" in third_sms["rendered"]["body"]
    assert "debt collector" not in first_sms["rendered"]["body"]
    assert third_sms["rendered"]["parts"] <= 2 and first_sms["rendered"]["parts"] == 1


def pack_source(channel: str, locale: str) -> dict[str, Any]:
    return next(
        t
        for t in load_pack()
        if (t["key"], t["channel"], t["locale"]) == ("first_notice", channel, locale)
    )


async def test_lint_passes_the_pack_and_shows_what_it_rendered(api: ApiClient) -> None:
    sms = pack_source("sms", "en")
    resp = await api.post(
        "/v1/templates/lint",
        {
            "channel": "sms",
            "locale": "en",
            "preset": "US-RegF",
            "collector_role": "third_party",
            "body": sms["body"],
        },
    )
    assert resp.status == 200
    assert resp.body["ok"] is True and resp.body["problems"] == []
    assert "from a debt collector" in resp.body["rendered"]["body"]
    email = pack_source("email", "zh-CN")
    resp = await api.post(
        "/v1/templates/lint",
        {
            "channel": "email",
            "locale": "zh-CN",
            "preset": "CN",
            "subject": email["subject"],
            "body": email["body"],
            "html": email["html"],
            "sol_expired": True,
        },
    )
    assert resp.body["ok"] is True, resp.body["problems"]
    assert "异议" in resp.body["rendered"]["text"]


async def test_lint_lists_every_problem(api: ApiClient) -> None:
    resp = await api.post(
        "/v1/templates/lint",
        {
            "channel": "sms",
            "locale": "en",
            "preset": "US-RegF",
            "collector_role": "third_party",
            "sol_expired": True,
            "body": "Pay {{ data.amount }} now or face a lawsuit. Account 4111111111111234. "
            "Reply STOP to opt out.",
            "data": {"amount": "$10"},
        },
    )
    assert resp.status == 200 and resp.body["ok"] is False
    found = {(p["rule"], p.get("block") or p.get("phrase")) for p in resp.body["problems"]}
    assert found == {
        ("content.forbidden", "lawsuit*"),
        ("content.masking", None),
        ("content.required", "collector_identity"),
        ("content.required", "mini_miranda"),
    }
    assert all(p["message"] for p in resp.body["problems"])
    # Exempt purposes need no blocks: an opt-out confirmation is a plain sentence.
    confirmation = await api.post(
        "/v1/templates/lint",
        {
            "channel": "sms",
            "locale": "en",
            "preset": "US-RegF",
            "purpose": "opt_out_confirmation",
            "body": "You will get no more texts from this number.",
        },
    )
    assert confirmation.body == {**confirmation.body, "ok": True, "problems": []}


async def test_lint_refuses_bad_input(api: ApiClient) -> None:
    base = {"channel": "sms", "locale": "en", "preset": "US-RegF", "body": "Hi"}
    syntax = await api.post("/v1/templates/lint", {**base, "body": "Hi {% if %}"})
    assert syntax.status == 422 and syntax.body["error"]["code"] == "template_error"
    assert "syntax" in syntax.body["error"]["message"]
    missing = await api.post("/v1/templates/lint", {**base, "body": "Hi {{ data.nope }}"})
    assert missing.status == 422 and missing.body["error"]["code"] == "template_error"
    unknown = await api.post("/v1/templates/lint", {**base, "preset": "MARS"})
    assert unknown.status == 422 and "unknown preset" in unknown.body["error"]["message"]
    for bad in (
        {**base, "channel": "email"},  # no subject
        {**base, "subject": "Hello"},  # an SMS has only a body
        {**base, "purpose": "party"},
        {k: v for k, v in base.items() if k != "body"},
    ):
        resp = await api.post("/v1/templates/lint", bad)
        assert resp.status == 422 and resp.body["error"]["code"] == "validation_failed", bad
    empty = await api.call("POST", "/v1/templates/lint", data=b"")
    assert empty.status == 400


async def test_lint_needs_the_templates_scope(api: ApiClient) -> None:
    reader = await create_key(api.settings, scopes=["cases:read"], name="reader")
    body = {"channel": "sms", "locale": "en", "preset": "US-RegF", "body": "Hi"}
    resp = await api.post("/v1/templates/lint", body, key=reader)
    assert resp.status == 403 and resp.body["error"]["code"] == "missing_scope"
    assert (await api.post("/v1/templates/lint", body, key=None)).status == 401
