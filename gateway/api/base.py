"""What every handler shares: the app keys, JSON in and out, authentication with scopes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import BadRequest, Forbidden, Unauthorized, ValidationFailed
from gateway.runtime import Runtime
from gateway.store import keys as key_store
from gateway.store.keys import ApiKey

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
KEY_CACHE: web.AppKey[dict[str, tuple[ApiKey | None, float]]] = web.AppKey("key_cache", dict)
API_KEY: web.RequestKey[ApiKey] = web.RequestKey("api_key", ApiKey)
KEY_CACHE_S = 30.0

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    raise TypeError


def json_response(data: Any, status: int = 200) -> web.Response:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", by_alias=True)
    body = orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
    return web.Response(body=body, status=status, content_type="application/json")


def pydantic_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in err["loc"]) or "(body)",
            "problem": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise BadRequest("the request needs a JSON body", code="empty_body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}", code="malformed_json") from None


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "the request does not match the schema", details=pydantic_details(exc)
        ) from None


async def parse(request: web.Request, model: type[M]) -> M:
    return validate(model, await read_json(request))


async def authenticate(request: web.Request) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    token = token.strip()
    cache = request.app[KEY_CACHE]
    cached = cache.get(token)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        key = cached[0]
    else:
        async with runtime(request).engine.connect() as conn:
            key = await key_store.verify(conn, token)
        if len(cache) > 10_000:
            cache.clear()
        cache[token] = (key, now + KEY_CACHE_S)
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    return key


def requires(scope: str) -> Callable[[Handler], Handler]:
    """Authenticate the request and require `scope`; the key is then `request[API_KEY]`."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def inner(request: web.Request) -> web.StreamResponse:
            key = await authenticate(request)
            if scope not in key.scopes:
                raise Forbidden(f"this API key lacks the {scope!r} scope", code="missing_scope")
            request[API_KEY] = key
            return await handler(request)

        inner.required_scope = scope  # type: ignore[attr-defined]
        return inner

    return wrap


def api_key(request: web.Request) -> ApiKey:
    return request[API_KEY]
