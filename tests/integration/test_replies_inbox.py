"""The operators' replies inbox, through the API with an injected clock: what lands there (not
understood, needing a person, senders on no case), resolving a reply with the same effects as the
gateway's own reading, replies recorded by letter or phone, filters, paging, tenants, scope."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gateway.services.due_work import DueWork
from gateway.settings import Settings
from tests.conftest import at
from tests.integration.test_replies import answers
from tests.support import ApiClient, case_body, drain, sms_reply

MONDAY_3PM = at("2026-03-09T15:00:00+00:00")
UNREADABLE = "xyzzy plugh frobnicate the wombat"  # long enough to need a person (§6.6 #20)
OTHERS_NUMBER = "+15005550199"  # the number the tenant `other` sends from


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Replies to OTHERS_NUMBER are the tenant `other`'s; to any other number, `default`'s."""
    return replace(settings, reply_tenants=f"{OTHERS_NUMBER}=other,*=default")


async def key_for(settings: Settings, tenant: str, scopes: list[str]) -> str:
    from gateway.setup import create_key

    return await create_key(settings, scopes=scopes, name=f"{tenant}-ops", tenant=tenant)


async def text(api: ApiClient, body: str, phone: str, to: str = "+15005550006") -> dict[str, Any]:
    resp = await api.post("/v1/providers/sandbox/inbound", {"from": phone, "to": to, "body": body})
    assert resp.status == 200, resp.body
    [stored] = resp.body["replies"]
    return dict(stored)


async def inbox(api: ApiClient, query: str = "", **kw: Any) -> dict[str, Any]:
    resp = await api.get(f"/v1/replies{query}", **kw)
    assert resp.status == 200, resp.body
    return dict(resp.body)


async def entries(api: ApiClient, case_ref: str, kind: str) -> list[dict[str, Any]]:
    body = (await api.get(f"/v1/cases/{case_ref}/timeline")).body
    return [e for e in body["entries"] if e["kind"] == kind]


async def contact_status(api: ApiClient, case_ref: str, channel: str) -> str:
    case = (await api.get(f"/v1/cases/{case_ref}")).body
    [contact] = [c for c in case["contacts"] if c["channel"] == channel]
    return str(contact["status"])


async def test_an_unreadable_reply_lands_in_the_inbox_and_resolving_it_opts_the_number_out(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/IN-1", case_body())
    stored = await sms_reply(api, UNREADABLE)
    assert stored["category"] == "unknown"

    [item] = (await inbox(api))["replies"]
    assert item["id"] == stored["reply_id"] and item["status"] == "open"
    assert item["case_ref"] == "IN-1" and item["channel"] == "sms" and item["body"] == UNREADABLE
    assert item["categories"] == ["unknown"] and item["review_reasons"] == ["not understood"]
    assert item["from"] == "+14155550123" and item["resolution"] is None

    clock.advance(hours=2)
    resp = await api.post(
        f"/v1/replies/{item['id']}/resolve",
        {"category": "opt_out_channel", "note": "the debtor means stop texting"},
    )
    assert resp.status == 200, resp.body
    resolved = resp.body
    assert resolved["status"] == "resolved"
    assert resolved["resolution"]["by"] == "key:test"
    assert at(resolved["resolution"]["at"]) == clock()
    assert resolved["resolution"]["category"] == "opt_out_channel"
    assert await contact_status(api, "IN-1", "sms") == "opted_out"
    assert await contact_status(api, "IN-1", "email") == "active"
    [confirmation] = await answers(runtime, "IN-1", "opt_out_confirmation")
    assert confirmation.channel == "sms"

    # Exactly what the gateway does with a STOP it reads itself, on another debtor's case.
    await api.put("/v1/cases/IN-2", case_body(phone="+14155550124", email=None))
    automatic = await sms_reply(api, "STOP", phone="+14155550124")
    auto = (await api.get(f"/v1/replies/{automatic['reply_id']}")).body
    assert auto["status"] == "automatic"
    by_person = [(e["category"], e["effect"]) for e in resolved["resolution"]["effects"]]
    assert by_person == [(e["category"], e["effect"]) for e in auto["effects"]]
    assert ("opt_out_channel", "contact_opted_out") in by_person

    # On the case's timeline, as the operator, resolution first.
    [entry] = await entries(api, "IN-1", "reply_resolved")
    assert entry["actor"] == "key:test" and entry["data"]["note"] == "the debtor means stop texting"
    assert (
        entry["data"]["read_before"] == "unknown" and entry["data"]["category"] == "opt_out_channel"
    )
    opted = [e for e in await entries(api, "IN-1", "reply_effect") if e["actor"] == "key:test"]
    assert [e["data"]["effect"] for e in opted][:1] == ["contact_opted_out"]
    assert opted[0]["data"]["classifier_version"] == "operator"

    assert (await inbox(api))["replies"] == []
    assert [r["id"] for r in (await inbox(api, "?status=resolved"))["replies"]] == [item["id"]]


async def test_resolving_as_a_promise_with_a_date_pauses_the_case(
    api: ApiClient, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/IN-3", case_body())
    reply_id = (await sms_reply(api, UNREADABLE))["reply_id"]

    # No date given and none read: refused, and nothing changes.
    resp = await api.post(
        f"/v1/replies/{reply_id}/resolve", {"category": "promise_to_pay", "note": "on the phone"}
    )
    assert resp.status == 422 and "promise_date" in resp.body["error"]["message"]
    resp = await api.post(
        f"/v1/replies/{reply_id}/resolve",
        {"category": "hardship", "note": "pays Friday", "promise_date": "2026-03-13"},
    )
    assert resp.status == 422 and "promise_to_pay" in resp.body["error"]["message"]
    assert (await api.get(f"/v1/replies/{reply_id}")).body["status"] == "open"
    assert (await api.get("/v1/cases/IN-3")).body["state"] == "active"

    resp = await api.post(
        f"/v1/replies/{reply_id}/resolve",
        {"category": "promise_to_pay", "note": "pays Friday", "promise_date": "2026-03-13"},
    )
    assert resp.status == 200, resp.body
    case = (await api.get("/v1/cases/IN-3")).body
    assert case["state"] == "paused" and at(case["state_until"]) == at("2026-03-15T00:00:00+00:00")
    [state] = [e for e in resp.body["resolution"]["effects"] if e["effect"] == "case_state"]
    assert state["category"] == "promise_to_pay" and state["state"] == "paused"


async def test_resolving_twice_or_by_an_unknown_category_is_refused(
    api: ApiClient, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/IN-4", case_body())
    reply_id = (await sms_reply(api, UNREADABLE))["reply_id"]

    resp = await api.post(f"/v1/replies/{reply_id}/resolve", {"category": "spam", "note": "x"})
    assert resp.status == 422
    problem = str(resp.body["error"]["details"])
    assert "opt_out_channel" in problem and "promise_to_pay" in problem and "unknown" in problem

    first = await api.post(f"/v1/replies/{reply_id}/resolve", {"category": "unknown", "note": "ok"})
    assert first.status == 200, first.body
    again = await api.post(
        f"/v1/replies/{reply_id}/resolve", {"category": "dispute", "note": "second thoughts"}
    )
    assert again.status == 409 and again.body["error"]["code"] == "reply_resolved"
    assert (await api.get("/v1/cases/IN-4")).body["state"] == "active", "the second did nothing"

    stop = (await sms_reply(api, "STOP"))["reply_id"]
    resp = await api.post(f"/v1/replies/{stop}/resolve", {"category": "unknown", "note": "x"})
    assert resp.status == 409 and resp.body["error"]["code"] == "reply_not_in_inbox"
    assert (
        await api.post("/v1/replies/999999/resolve", {"category": "unknown", "note": "x"})
    ).status == 404


async def test_filters_and_paging(api: ApiClient, clock: Any) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/IN-A", case_body(phone="+14155550131"))
    await api.put("/v1/cases/IN-B", case_body(phone="+14155550132"))
    ids = []
    for n in range(3):
        ids.append((await text(api, f"{UNREADABLE} {n}", "+14155550131"))["reply_id"])
        clock.advance(minutes=1)
    ids.append(
        (await text(api, "I dispute this debt, I never had this account", "+14155550132"))[
            "reply_id"
        ]
    )
    ids.append((await text(api, UNREADABLE, "+14155550132"))["reply_id"])
    letter = await api.post(
        "/v1/cases/IN-B/replies", {"channel": "letter", "body": "Please stop writing to me"}
    )
    ids.append(letter.body["id"])
    # Short, the sender's first, and understood as nothing: nobody needs to look.
    await api.put("/v1/cases/IN-C", case_body(phone="+14155550133"))
    await text(api, "ok", "+14155550133")

    assert [r["id"] for r in (await inbox(api))["replies"]] == ids, "oldest first"
    assert [r["id"] for r in (await inbox(api, "?case_ref=IN-A"))["replies"]] == ids[:3]
    assert [r["id"] for r in (await inbox(api, "?category=dispute"))["replies"]] == [ids[3]]
    assert [r["id"] for r in (await inbox(api, "?channel=letter"))["replies"]] == [ids[5]]
    assert (await inbox(api, "?case_ref=IN-B&category=unknown"))["replies"][0]["id"] == ids[4]
    assert (await inbox(api, "?case_ref=NOBODY"))["replies"] == []

    seen, cursor, pages = [], None, 0
    while True:
        page = await inbox(api, "?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [r["id"] for r in page["replies"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids and pages == 3

    await api.post(f"/v1/replies/{ids[0]}/resolve", {"category": "unknown", "note": "noise"})
    assert [r["id"] for r in (await inbox(api))["replies"]] == ids[1:]
    assert [r["id"] for r in (await inbox(api, "?status=resolved"))["replies"]] == ids[:1]
    assert [r["id"] for r in (await inbox(api, "?status=all"))["replies"]] == ids

    for bad in (
        "?status=closed",
        "?limit=0",
        "?limit=201",
        "?cursor=nonsense",
        "?category=spam",
        "?channel=fax",
        "?case_ref=a%20b",
    ):
        resp = await api.get(f"/v1/replies{bad}")
        assert resp.status == 422, (bad, resp.body)


async def test_a_reply_from_no_case_is_attached_to_a_case_when_resolved(
    api: ApiClient, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/IN-5", case_body())
    stored = await text(api, "I lost my job and cannot pay right now", "+14155550999")
    assert stored["case_ref"] is None
    [item] = (await inbox(api))["replies"]
    assert item["case_ref"] is None and item["review_reasons"] == ["the sender is on no case"]

    missing = await api.post(
        f"/v1/replies/{item['id']}/resolve",
        {"category": "hardship", "note": "her new number", "case_ref": "NOBODY"},
    )
    assert missing.status == 404
    resp = await api.post(
        f"/v1/replies/{item['id']}/resolve",
        {"category": "hardship", "note": "her new number", "case_ref": "IN-5"},
    )
    assert resp.status == 200, resp.body
    assert resp.body["case_ref"] == "IN-5"
    case = (await api.get("/v1/cases/IN-5")).body
    assert case["state"] == "paused" and case["state_reason"] == "hardship"
    [entry] = await entries(api, "IN-5", "reply_resolved")
    assert entry["data"]["attached"] is True and entry["data"]["reply_id"] == item["id"]

    # A reply already on a case stays on it.
    other = (await sms_reply(api, UNREADABLE))["reply_id"]
    await api.put("/v1/cases/IN-6", case_body(phone="+14155550177"))
    moved = await api.post(
        f"/v1/replies/{other}/resolve", {"category": "unknown", "note": "x", "case_ref": "IN-6"}
    )
    assert moved.status == 409 and moved.body["error"]["code"] == "reply_on_another_case"


async def test_a_tenant_sees_and_resolves_only_its_own_replies(
    api: ApiClient, settings: Settings, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    other = await key_for(settings, "other", ["ops", "cases:read", "cases:write"])
    await api.put("/v1/cases/D-1", case_body(phone="+14155550141"))
    await api.put("/v1/cases/O-1", case_body(phone="+14155550142"), key=other)
    # The same debtor on a case of each tenant.
    await api.put("/v1/cases/D-2", case_body(phone="+14155550143"))
    await api.put("/v1/cases/O-2", case_body(phone="+14155550143"), key=other)

    mine = (await text(api, UNREADABLE, "+14155550141"))["reply_id"]
    theirs = (await text(api, UNREADABLE, "+14155550142", to=OTHERS_NUMBER))["reply_id"]
    stray_mine = (await text(api, UNREADABLE, "+14155550901"))["reply_id"]
    stray_theirs = (await text(api, UNREADABLE, "+14155550902", to=OTHERS_NUMBER))["reply_id"]
    shared = await text(api, UNREADABLE, "+14155550143", to=OTHERS_NUMBER)
    assert shared["case_ref"] == "O-2", "a reply to the other tenant's number is on its case"

    assert [r["id"] for r in (await inbox(api))["replies"]] == [mine, stray_mine]
    theirs_seen = [r["id"] for r in (await inbox(api, key=other))["replies"]]
    assert theirs_seen == [theirs, stray_theirs, shared["reply_id"]]

    for reply_id in (theirs, stray_theirs):
        assert (await api.get(f"/v1/replies/{reply_id}")).status == 404
        resp = await api.post(
            f"/v1/replies/{reply_id}/resolve", {"category": "unknown", "note": "x"}
        )
        assert resp.status == 404
    assert (await api.get(f"/v1/replies/{theirs}", key=other)).status == 200
    # Nor can a reply be attached to, or recorded on, another tenant's case.
    resp = await api.post(
        f"/v1/replies/{stray_mine}/resolve", {"category": "unknown", "note": "x", "case_ref": "O-1"}
    )
    assert resp.status == 404 and resp.body["error"]["code"] == "unknown_case"
    resp = await api.post("/v1/cases/O-1/replies", {"channel": "letter", "body": "hello"})
    assert resp.status == 404
    assert (await inbox(api, "?case_ref=O-1"))["replies"] == []


async def test_a_letter_or_a_call_recorded_by_an_operator_is_read_and_acted_on(
    api: ApiClient, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/IN-7", case_body())
    received = "2026-03-06T10:00:00+00:00"
    resp = await api.post(
        "/v1/cases/IN-7/replies",
        {"channel": "letter", "body": "Please stop writing to me", "received_at": received},
    )
    assert resp.status == 201, resp.body
    letter = resp.body
    assert letter["category"] == "cease_all" and letter["channel"] == "letter"
    assert at(letter["received_at"]) == at(received) and letter["case_ref"] == "IN-7"
    # A US case: a written cease request stops contact (Reg F 1006.6(c)), and a person checks it.
    case = (await api.get("/v1/cases/IN-7")).body
    assert case["state"] == "ceased"
    assert any(e["effect"] == "case_state" for e in letter["effects"])
    assert letter["status"] == "open" and letter["review_reasons"] == ["cease_all needs a person"]
    [entry] = await entries(api, "IN-7", "reply_received")
    assert entry["data"]["recorded_by"] == "key:test" and entry["data"]["routed_by"] == "operator"

    # A call on Saturday, "tomorrow": Sunday, read from the day it was said.
    await api.put("/v1/cases/IN-8", case_body(phone="+14155550155"))
    resp = await api.post(
        "/v1/cases/IN-8/replies",
        {
            "channel": "phone",
            "body": "I will pay tomorrow",
            "received_at": "2026-03-07T12:00:00+00:00",
            "from": "+1 415 555 0155",
        },
    )
    assert resp.status == 201, resp.body
    assert resp.body["facts"]["promise_date"] == "2026-03-08" and resp.body["status"] == "automatic"
    case = (await api.get("/v1/cases/IN-8")).body
    assert case["state"] == "paused" and at(case["state_until"]) == at("2026-03-10T00:00:00+00:00")

    future = await api.post(
        "/v1/cases/IN-8/replies",
        {"channel": "letter", "body": "hello", "received_at": "2026-03-10T00:00:00+00:00"},
    )
    assert future.status == 422
    assert (
        await api.post("/v1/cases/NOBODY/replies", {"channel": "letter", "body": "x"})
    ).status == 404
    assert (await api.post("/v1/cases/IN-8/replies", {"channel": "fax", "body": "x"})).status == 422


async def test_the_inbox_needs_the_ops_scope(
    api: ApiClient, settings: Settings, clock: Any
) -> None:
    clock.set(MONDAY_3PM)
    await api.put("/v1/cases/IN-9", case_body())
    reply_id = (await sms_reply(api, UNREADABLE))["reply_id"]
    key = await key_for(settings, "default", ["cases:read", "cases:write", "reminders:write"])
    calls = [
        ("GET", "/v1/replies", None),
        ("GET", f"/v1/replies/{reply_id}", None),
        ("POST", f"/v1/replies/{reply_id}/resolve", {"category": "unknown", "note": "x"}),
        ("POST", "/v1/cases/IN-9/replies", {"channel": "letter", "body": "hello"}),
    ]
    for method, path, body in calls:
        resp = await api.call(method, path, body, key=key)
        assert resp.status == 403 and resp.body["error"]["code"] == "missing_scope", path
        assert (await api.call(method, path, body, key=None)).status == 401
    assert (await api.get(f"/v1/replies/{reply_id}")).body["status"] == "open"


async def test_a_promise_resolved_from_the_inbox_pauses_the_case_s_cadence(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    """As a reply read "I'll pay on Friday" does: the run's next steps wait for the pause."""
    clock.set(at("2026-10-02T15:00:00+00:00"))  # DPD 1 of case_body's debt
    await api.put("/v1/cases/IN-10", case_body())
    started = await api.put("/v1/cases/IN-10/cadence", {"cadence": "first-party-card"})
    assert started.status == 200, started.body
    await DueWork(runtime).pump()
    await drain(runtime)

    clock.set(at("2026-10-03T10:00:00+00:00"))
    reply_id = (await sms_reply(api, UNREADABLE))["reply_id"]
    resp = await api.post(
        f"/v1/replies/{reply_id}/resolve",
        {"category": "promise_to_pay", "note": "called: Friday", "promise_date": "2026-10-09"},
    )
    assert resp.status == 200, resp.body
    pause_ends = at("2026-10-11T00:00:00+00:00")
    case = (await api.get("/v1/cases/IN-10")).body
    assert (case["state"], at(case["state_until"])) == ("paused", pause_ends)
    steps = {s["name"]: s for s in (await api.get("/v1/cases/IN-10/cadence")).body["steps"]}
    assert at(steps["dpd3-email"]["due_at"]) == pause_ends
