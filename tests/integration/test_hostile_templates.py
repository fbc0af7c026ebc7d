"""Hostile templates through the API: a lint answers 422 within a second while the API stays
responsive, a runaway render child is killed and replaced, and an operator's published template
that would run away is refused at intake instead of stalling the API or a worker."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

import pytest

from gateway.errors import ValidationFailed
from gateway.render_pool import RenderPool
from tests.support import ApiClient, add_template, case_body, reminder

LINT = {"channel": "sms", "locale": "en", "preset": "US-RegF"}
HOSTILE = [
    '{{ "a" * 10**9 }}',
    "{% for x in range(10**9) %}{{ x }}{% endfor %}",
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
]


async def _timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


@pytest.mark.parametrize("source", HOSTILE)
async def test_a_hostile_lint_answers_422_quickly_and_healthz_stays_fast(
    api: ApiClient, source: str
) -> None:
    warm = await api.post("/v1/templates/lint", {**LINT, "body": "Hi"})  # starts the render child
    assert warm.status == 200, warm.body
    lint = asyncio.create_task(_timed(api.post("/v1/templates/lint", {**LINT, "body": source})))
    health, health_s = await _timed(api.get("/healthz", key=None))
    (resp, lint_s) = await lint
    assert health.status == 200 and health_s < 0.5, health_s
    assert resp.status == 422, resp.body
    assert resp.body["error"]["code"] == "template_too_costly", resp.body
    assert lint_s < 1.0, lint_s


def _state() -> None:
    return None


def _spin(_: None, seconds: float) -> str:
    # Stands in for a render the sandbox failed to stop: busy, deaf to signals but SIGKILL.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return "done"


def _fail(_: None) -> None:
    raise ValidationFailed("refused in the child", code="template_error")


async def test_a_runaway_child_is_killed_and_replaced() -> None:
    pool = RenderPool(partial(_state), size=1, timeout_s=0.5)
    try:
        assert await pool.run(_spin, 0) == "done"  # started and answering
        started = time.monotonic()
        with pytest.raises(ValidationFailed) as err:
            await pool.run(_spin, 60)
        assert time.monotonic() - started < 1.0
        assert err.value.code == "template_too_costly"
        assert await pool.run(_spin, 0) == "done"  # a fresh child took its place
        with pytest.raises(ValidationFailed) as refused:
            await pool.run(_fail)
        assert (refused.value.code, refused.value.message) == (
            "template_error",
            "refused in the child",
        )
    finally:
        pool.close()


async def test_an_operators_runaway_template_is_refused_at_intake(api: ApiClient) -> None:
    await add_template(api.settings, "loop_notice", "sms", HOSTILE[2])
    await api.put("/v1/cases/H-1", case_body())
    resp, seconds = await _timed(api.post("/v1/reminders", reminder("H-1", template="loop_notice")))
    assert resp.status == 422, resp.body
    assert resp.body["error"]["code"] == "template_too_costly"
    assert seconds < 1.0
