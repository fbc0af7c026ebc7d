"""Health, metrics, the OpenAPI document, and behaviour with a dependency down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from gateway.api.app import create_app
from gateway.api.openapi import OPERATIONS, spec
from gateway.settings import Settings
from tests.support import ApiClient, case_body, free_port, reminder


def test_openapi_document_is_valid_3_1() -> None:
    document = spec()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_is_documented_with_its_scope(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({}, data_dir=tmp_path))
    routes = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        path = route.resource.canonical
        routes.add((route.method.lower(), path))
        documented = spec()["paths"].get(path, {}).get(route.method.lower())
        assert documented is not None, f"{route.method} {path} is not in /openapi.json"
        scope = getattr(route.handler, "required_scope", None)
        assert documented.get("x-required-scope") == scope, f"{route.method} {path}: scope mismatch"
    assert routes == {(m, p) for m, p, *_ in OPERATIONS}


async def test_healthz_and_metrics(api: ApiClient) -> None:
    health = await api.get("/healthz", key=None)
    assert health.status == 200 and health.body["checks"] == {"database": "ok", "redis": "ok"}
    await api.put("/v1/cases/M-1", case_body())
    await api.post("/v1/reminders", reminder("M-1", "sms"))
    metrics = await api.get("/metrics", key=None)
    assert 'gateway_messages{channel="sms",state="accepted"} 1.0' in metrics.body
    assert 'gateway_http_requests_total{route="/v1/reminders",status="202"} 1.0' in metrics.body
    served = await api.get("/openapi.json", key=None)
    assert served.body == spec()


async def test_database_down_is_503_not_500(
    tmp_path: Path, redis_url: str, aiohttp_client: Any, sqlite_url: str
) -> None:
    from gateway.setup import create_key
    from gateway.store.keys import SCOPES

    up = Settings.from_env({}, data_dir=tmp_path, database_url=sqlite_url, redis_url=redis_url)
    key = await create_key(up, scopes=list(SCOPES))
    down = up.with_(database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    client = await aiohttp_client(create_app(down))
    health = await client.get("/healthz")
    assert health.status == 503 and (await health.json())["checks"]["database"].startswith("down")
    resp = await client.put(
        "/v1/cases/D-1", json=case_body(), headers={"Authorization": f"Bearer {key}"}
    )
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    assert (await resp.json())["error"]["code"] == "unavailable"


@pytest.mark.parametrize("path", ["/v1/cases/X", "/v1/messages/abc"])
async def test_reads_need_a_key(api: ApiClient, path: str) -> None:
    assert (await api.get(path, key=None)).status == 401
