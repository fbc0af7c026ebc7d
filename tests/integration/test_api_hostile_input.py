"""Hostile or sloppy input gets a precise 4xx and changes nothing: tokens that are not ASCII,
methods a route does not have, times given as numbers, control and bidi characters in names and
keys, a negative zero amount, and a template name that does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ApiClient, case_body, reminder


async def test_a_non_ascii_unsubscribe_token_is_a_400_not_a_500(api: ApiClient) -> None:
    for method in ("GET", "POST"):
        resp = await api.call(method, "/v1/unsubscribe/%C3%87%C3%8F%20L", key=None)
        assert resp.status == 400, resp.body
        assert resp.body["error"]["code"] == "bad_token"


async def test_a_405_names_the_allowed_methods(api: ApiClient) -> None:
    wrong = await api.call("DELETE", "/v1/cases/C-1", check=False)
    assert wrong.status == 405 and wrong.body["error"]["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(",")) >= {"GET", "PUT"}


@pytest.mark.parametrize("at", [0, 1764000000, 1764000000.5, True])
async def test_a_time_must_be_a_string(api: ApiClient, at: Any) -> None:
    await api.put("/v1/cases/T-1", case_body())
    resp = await api.post("/v1/policy/evaluate", {"case_ref": "T-1", "channel": "sms", "at": at})
    assert resp.status == 422, resp.body
    assert resp.body["error"]["details"][0]["field"] == "at"
    later = await api.post("/v1/reminders", {**reminder("T-1"), "not_before": 0})
    assert later.status == 422 and later.body["error"]["details"][0]["field"] == "not_before"


BAD_TEXT = {
    "NUL": "Jane\x00Doe",
    "right-to-left override": "Jane \u202eeoD",
    "isolate": "Jane \u2066Doe\u2069",
    "left-to-right mark": "Jane\u200eDoe",
    "escape": "Jane\x1b[31mDoe",
    "line separator": "Jane\u2028Doe",
}


@pytest.mark.parametrize("text", BAD_TEXT.values(), ids=BAD_TEXT.keys())
async def test_control_and_bidi_characters_are_refused(api: ApiClient, text: str) -> None:
    body = case_body()
    body["debtor"]["name"] = text
    named = await api.put("/v1/cases/B-1", body)
    assert named.status == 422, named.body
    assert named.body["error"]["details"][0]["field"] == "debtor.name"
    assert (await api.get("/v1/cases/B-1")).status == 404  # nothing was written

    await api.put("/v1/cases/B-2", case_body())
    keyed = await api.post("/v1/reminders", reminder("B-2", key=f"k-{text}"))
    assert keyed.status == 422, keyed.body
    assert keyed.body["error"]["details"][0]["field"] == "idempotency_key"
    noted = await api.post("/v1/cases/B-2/events", {"type": "dispute", "note": text})
    assert noted.status == 422 and noted.body["error"]["details"][0]["field"] == "note"


async def test_tabs_and_newlines_stay_allowed_where_text_is_free(api: ApiClient) -> None:
    await api.put("/v1/cases/B-3", case_body())
    resp = await api.post(
        "/v1/cases/B-3/events", {"type": "dispute", "note": "says:\n\tnot mine\r\n"}
    )
    assert resp.status == 200, resp.body


@pytest.mark.parametrize("amount", ["-0", "-0.00", -0.0, "-0.0"])
async def test_a_negative_zero_amount_is_refused(api: ApiClient, amount: Any) -> None:
    resp = await api.put("/v1/cases/Z-1", case_body(amount=amount))
    assert resp.status == 422, resp.body
    assert resp.body["error"]["details"][0]["field"] == "debt.amount"
    await api.put("/v1/cases/Z-2", case_body())
    paid = await api.post("/v1/cases/Z-2/events", {"type": "payment_received", "amount": amount})
    assert paid.status == 422 and paid.body["error"]["details"][0]["field"] == "amount"


async def test_an_unknown_template_names_the_known_ones_and_the_closest(api: ApiClient) -> None:
    await api.put("/v1/cases/U-1", case_body())
    resp = await api.post("/v1/reminders", {**reminder("U-1"), "template": "first_notise"})
    assert resp.status == 422 and resp.body["error"]["code"] == "unknown_template"
    message = resp.body["error"]["message"]
    assert "did you mean 'first_notice'?" in message, message
    assert "known sms templates:" in message and "first_notice" in message.split("known")[1]
    far = await api.post("/v1/reminders", {**reminder("U-1"), "template": "zzzz"})
    assert "did you mean" not in far.body["error"]["message"]
    assert "known sms templates:" in far.body["error"]["message"]
