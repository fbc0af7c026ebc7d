"""The intake API over HTTP: cases, reminders, batches, idempotency, auth and bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.setup import create_key
from gateway.store.tables import cases, messages, timeline
from tests.support import ApiClient, case_body, reminder


async def counts(api: ApiClient) -> dict[str, int]:
    from gateway.store.engine import create_engine

    engine = create_engine(api.settings)
    try:
        async with engine.connect() as conn:
            return {
                t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
                for t in (cases, messages, timeline)
            }
    finally:
        await engine.dispose()


async def test_case_roundtrip_keeps_only_last_four_digits(api: ApiClient) -> None:
    put = await api.put("/v1/cases/C-1", case_body())
    assert put.status == 201
    assert put.body["debt"]["account"] == "1234"
    assert "4111" not in str(put.body)
    assert {c["channel"] for c in put.body["contacts"]} == {"sms", "email", "letter"}

    again = await api.put("/v1/cases/C-1", case_body(amount="99.00"))
    assert again.status == 200
    got = await api.get("/v1/cases/C-1")
    assert got.body["debt"]["amount"] == "99.00"
    timeline_resp = await api.get("/v1/cases/C-1/timeline")
    assert [e["kind"] for e in timeline_resp.body["entries"]] == ["case_created", "case_updated"]


async def test_phone_numbers_are_normalized_to_e164(api: ApiClient) -> None:
    body = case_body(phone="+44 20 7946 0958")
    resp = await api.put("/v1/cases/C-uk", body)
    assert resp.status == 201
    assert {
        "channel": "sms",
        "address": "+442079460958",
        "status": "active",
        "role": "debtor",
    } in resp.body["contacts"]


async def test_reminder_accepted_once_per_idempotency_key(api: ApiClient) -> None:
    await api.put("/v1/cases/C-2", case_body())
    first = await api.post("/v1/reminders", reminder("C-2", "sms", key="k1"))
    assert first.status == 202 and first.body["status"] == "accepted"
    second = await api.post("/v1/reminders", reminder("C-2", "sms", key="k1"))
    assert second.status == 200
    assert second.body == {**first.body, "status": "duplicate"}
    conflict = await api.post("/v1/reminders", reminder("C-2", "email", key="k1"))
    assert conflict.status == 409
    assert conflict.body["error"]["code"] == "idempotency_conflict"
    assert (await counts(api))["messages"] == 1


async def test_idempotency_keys_are_scoped_per_api_key(api: ApiClient) -> None:
    await api.put("/v1/cases/C-3", case_body())
    other = await create_key(api.settings, scopes=["reminders:write"], name="other")
    a = await api.post("/v1/reminders", reminder("C-3", key="same"))
    b = await api.post("/v1/reminders", reminder("C-3", key="same"), key=other)
    assert a.status == b.status == 202
    assert a.body["id"] != b.body["id"]


async def test_batch_gives_a_result_per_item(api: ApiClient) -> None:
    await api.put("/v1/cases/C-4", case_body())
    items = [
        reminder("C-4", "sms", key="b1"),
        reminder("C-404", "sms", key="b2"),
        reminder("C-4", "email", key="b3"),
        {**reminder("C-4", "sms", key="b4"), "template": "no_such_template"},
        reminder("C-4", "sms", key="b1"),
    ]
    resp = await api.post("/v1/reminders/batch", {"items": items})
    assert resp.status == 202
    statuses = [r["status"] for r in resp.body["results"]]
    assert statuses == ["accepted", "rejected", "accepted", "rejected", "duplicate"]
    assert resp.body["results"][1]["error"]["code"] == "unknown_case"
    assert resp.body["results"][3]["error"]["code"] == "unknown_template"
    assert resp.body["results"][4]["id"] == resp.body["results"][0]["id"]
    assert (resp.body["accepted"], resp.body["rejected"], resp.body["duplicates"]) == (2, 2, 1)
    assert (await counts(api))["messages"] == 2


async def test_batch_of_1000_is_accepted_and_enqueued_in_chunks(
    api: ApiClient, redis_client: Any
) -> None:
    await api.put("/v1/cases/C-5", case_body())
    items = [reminder("C-5", "sms", key=f"k{i}") for i in range(1000)]
    resp = await api.post("/v1/reminders/batch", {"items": items})
    assert resp.status == 202 and resp.body["accepted"] == 1000
    from rq import Queue
    from rq.job import Job

    queue = Queue(f"{api.settings.queue_prefix}-dispatch", connection=redis_client)
    jobs = [Job.fetch(j, connection=redis_client) for j in queue.job_ids]
    assert len(jobs) == 10
    ids = [i for job in jobs for i in job.args[0]]
    # Job payloads are message ids only: no personal data, no objects.
    assert sorted(ids) == sorted(r["id"] for r in resp.body["results"])
    assert all(isinstance(i, str) and len(i) == 28 for i in ids)


BAD_INPUT = [
    ("malformed json", "/v1/reminders", b"{not json", 400, "malformed_json"),
    ("empty body", "/v1/reminders", b"", 400, "empty_body"),
    (
        "unknown field",
        "/v1/reminders",
        {**reminder("C-6"), "surprise": 1},
        422,
        "validation_failed",
    ),
    (
        "missing field",
        "/v1/reminders",
        {"case_ref": "C-6", "template": "first_notice", "channel": "sms"},
        422,
        "validation_failed",
    ),
    ("wrong type", "/v1/reminders", {**reminder("C-6"), "channel": 7}, 422, "validation_failed"),
    (
        "unknown channel",
        "/v1/reminders",
        {**reminder("C-6"), "channel": "fax"},
        422,
        "validation_failed",
    ),
    (
        "naive time",
        "/v1/reminders",
        {**reminder("C-6"), "not_before": "2026-12-01T09:00:00"},
        422,
        "validation_failed",
    ),
    ("unknown case", "/v1/reminders", reminder("C-nope"), 404, "unknown_case"),
    (
        "unknown template",
        "/v1/reminders",
        {**reminder("C-6"), "template": "nope"},
        422,
        "unknown_template",
    ),
    (
        "past expiry",
        "/v1/reminders",
        {**reminder("C-6"), "expires_at": "2020-01-01T00:00:00+00:00"},
        422,
        "already_expired",
    ),
    (
        "to not a contact",
        "/v1/reminders",
        {**reminder("C-6"), "to": "+14155550999"},
        422,
        "no_contact_point",
    ),
    ("empty batch", "/v1/reminders/batch", {"items": []}, 400, "empty_batch"),
    ("batch not a list", "/v1/reminders/batch", {"items": "x"}, 400, "bad_batch"),
    (
        "oversized batch",
        "/v1/reminders/batch",
        {"items": [reminder("C-6", key=f"o{i}") for i in range(1001)]},
        413,
        "batch_too_large",
    ),
    (
        "bad item in batch",
        "/v1/reminders/batch",
        {"items": [reminder("C-6"), {"case_ref": "C-6"}]},
        422,
        "validation_failed",
    ),
    ("invalid phone", "/v1/cases/C-7", case_body(phone="+1 555 0100"), 422, "validation_failed"),
    ("phone not e164", "/v1/cases/C-7", case_body(phone="4155550123"), 422, "validation_failed"),
    ("invalid email", "/v1/cases/C-7", case_body(email="jane@@example"), 422, "validation_failed"),
    (
        "bad time zone",
        "/v1/cases/C-7",
        {**case_body(), "debtor": {"name": "J", "timezone": "Mars/Base"}},
        422,
        "validation_failed",
    ),
    (
        "negative amount",
        "/v1/cases/C-7",
        {**case_body(), "debt": {**case_body()["debt"], "amount": "-1"}},
        422,
        "validation_failed",
    ),
    ("bad case ref", "/v1/cases/bad%20ref", case_body(), 422, "validation_failed"),
    (
        "country not ISO 3166",
        "/v1/cases/C-7",
        {
            **case_body(),
            "debtor": {
                "name": "J",
                "postal_address": {"lines": ["1 High St", "London"], "country": "UK"},
            },
        },
        422,
        "validation_failed",
    ),
]


@pytest.mark.parametrize(
    ("label", "path", "body", "status", "code"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT]
)
async def test_bad_input_is_a_precise_4xx_and_changes_nothing(
    api: ApiClient, label: str, path: str, body: Any, status: int, code: str
) -> None:
    await api.put("/v1/cases/C-6", case_body())
    before = await counts(api)
    method = "PUT" if path.startswith("/v1/cases/") else "POST"
    if isinstance(body, bytes):
        resp = await api.call(method, path, data=body, headers={"Content-Type": "application/json"})
    else:
        resp = await api.call(method, path, body)
    assert resp.status == status, resp.body
    assert resp.body["error"]["code"] == code
    assert set(resp.body["error"]) == {"code", "message", "details"}
    assert await counts(api) == before


async def test_validation_errors_name_the_field(api: ApiClient) -> None:
    resp = await api.post(
        "/v1/reminders/batch", {"items": [reminder("C-1"), {**reminder("C-1"), "channel": 3}]}
    )
    assert resp.status == 422
    fields = [d["field"] for d in resp.body["error"]["details"]]
    assert "items.1.channel" in fields


async def test_missing_or_unknown_key_is_401(api: ApiClient) -> None:
    assert (await api.get("/v1/cases/C-1", key=None)).status == 401
    assert (await api.get("/v1/cases/C-1", key="rg_abc_def")).status == 401
    bad = await api.get("/v1/cases/C-1", key=None, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert bad.status == 401 and bad.body["error"]["code"] == "unauthorized"


async def test_key_without_scope_is_403(api: ApiClient) -> None:
    reader = await create_key(api.settings, scopes=["cases:read"], name="reader")
    resp = await api.put("/v1/cases/C-8", case_body(), key=reader)
    assert resp.status == 403 and resp.body["error"]["code"] == "missing_scope"
    assert (await api.post("/v1/reminders", reminder("C-8"), key=reader)).status == 403
    assert (await api.get("/v1/sandbox/sms", key=reader)).status == 403
    assert (await api.get("/v1/cases/C-8", key=reader)).status == 404


async def test_unknown_route_and_method_are_json(api: ApiClient) -> None:
    missing = await api.get("/v1/nothing-here", check=False)
    assert missing.status == 404 and missing.body["error"]["code"] == "not_found"
    wrong = await api.call("DELETE", "/v1/reminders", check=False)
    assert wrong.status == 405 and wrong.body["error"]["code"] == "method_not_allowed"


async def test_an_sms_too_long_for_the_part_limit_is_refused_at_intake(api: ApiClient) -> None:
    await api.put("/v1/cases/L-1", case_body(name="王" * 200, locale="zh-CN", currency="CNY"))
    resp = await api.post("/v1/reminders", reminder("L-1", "sms"))
    assert resp.status == 422 and resp.body["error"]["code"] == "sms_too_long"
    assert "UCS-2" in resp.body["error"]["message"]
    # The same case by email is fine: the limit is about SMS parts.
    assert (await api.post("/v1/reminders", reminder("L-1", "email"))).status == 202


async def test_a_template_that_cannot_render_for_this_case_is_refused_at_intake(
    api: ApiClient,
) -> None:
    from sqlalchemy import insert

    from gateway.store.engine import create_engine
    from gateway.store.tables import template_versions

    engine = create_engine(api.settings)
    async with engine.begin() as conn:
        await conn.execute(
            insert(template_versions).values(
                key="needs_data",
                channel="sms",
                locale="en",
                version=1,
                status="published",
                subject=None,
                body="Pay by {{ data.deadline }}. Reply STOP to opt out.",
                html=None,
                meta={},
                author="test",
                created_at=datetime.now(UTC),
            )
        )
    await engine.dispose()
    await api.put("/v1/cases/L-2", case_body())
    missing = await api.post("/v1/reminders", {**reminder("L-2", "sms"), "template": "needs_data"})
    assert missing.status == 422 and missing.body["error"]["code"] == "template_error"
    given = await api.post(
        "/v1/reminders",
        {
            **reminder("L-2", "sms", key="k2"),
            "template": "needs_data",
            "data": {"deadline": "Friday"},
        },
    )
    assert given.status == 202
