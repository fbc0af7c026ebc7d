"""Middlewares: a request id and one access-log line per request; every error as JSON."""

from __future__ import annotations

import time
import uuid

import structlog
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.api.base import Handler, json_response
from gateway.api.ops import METRICS
from gateway.errors import GatewayError, Unavailable

log = structlog.get_logger()

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
}


def error_body(status: int, code: str, message: str) -> web.Response:
    return json_response(
        {"error": {"code": code, "message": message, "details": []}}, status=status
    )


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as exc:
        return json_response(exc.to_json(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_CODES.get(exc.status, "http_error")
        message = exc.reason if exc.status != 413 else "the request body is too large"
        response = error_body(exc.status, code, message)
        if "Allow" in exc.headers:  # a 405 says which methods the route has (RFC 9110 §15.5.6)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (
        OperationalError,
        DBAPIError,
        PoolTimeout,
        RedisConnectionError,
        ConnectionRefusedError,
    ) as exc:
        log.warning("dependency_unavailable", error=type(exc).__name__)
        unavailable = Unavailable("a backing service is unavailable; retry shortly")
        response = json_response(unavailable.to_json(), status=503)
        response.headers["Retry-After"] = "5"
        return response
    except Exception:
        log.exception("unhandled_error", route=request.path)
        return error_body(500, "internal_error", "an internal error occurred; it has been logged")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        route = request.match_info.route.resource
        request.app[METRICS].requests.labels(
            route=route.canonical if route is not None else "unmatched", status=str(status)
        ).inc()
        log.info(
            "request",
            method=request.method,
            route=request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else None,
            status=status,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
