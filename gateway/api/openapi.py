"""The OpenAPI 3.1 document, built from the same pydantic models the handlers validate with.

`OPERATIONS` (gateway/api/operations.py) lists every route; a test checks it against the app's
router, so a handler cannot be added without being documented.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from gateway import __version__
from gateway import schemas as s
from gateway.api.operations import OPERATIONS, QUERY
from gateway.providers import REGISTRY

MESSAGE_ID = r"^[0-9a-f]{28}$"  # gateway.ids.new_id
UNSUBSCRIBE_TOKEN = (
    r"^[0-9a-f]{28}\.[0-9a-f]{32}$"  # gateway.services.unsubscribe.unsubscribe_token
)

WEBHOOK_ID = r"^wh_[0-9a-f]{24}$"  # gateway.store.webhooks.create

REF = "#/components/schemas/{model}"


ERRORS = {
    400: "Bad request",
    401: "Missing or unknown API key",
    403: "The key lacks the scope",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Validation failed",
    503: "A backing service is unavailable",
}


def _path_parameters() -> dict[str, dict[str, Any]]:
    """Each path parameter's schema: what its handler accepts, so a request that matches the
    document is not refused for its path (a case_ref with a space is a 422 before any lookup)."""
    return {
        "case_ref": TypeAdapter(s.Ref).json_schema(),
        "cadence": {"type": "string", "minLength": 1, "maxLength": 64},
        "message_id": {"type": "string", "pattern": MESSAGE_ID},
        "provider": {"type": "string", "enum": sorted(REGISTRY)},
        "token": {"type": "string", "pattern": UNSUBSCRIBE_TOKEN},
        "webhook_id": {"type": "string", "pattern": WEBHOOK_ID},
        "delivery_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "reply_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    }


def _content(model: Any) -> dict[str, Any]:
    if model == "html":
        return {"text/html": {"schema": {"type": "string"}}}
    if model == "ndjson":
        # One JSON object a line (`gateway.services.evidence` lists the record types).
        line = {"$ref": REF.format(model=s.EvidenceLine.__name__)}
        return {"application/x-ndjson": {"schema": line}}
    if model == "text":
        return {"text/plain": {"schema": {"type": "string"}}}
    if model == "object" or model is None:
        return {"application/json": {"schema": {"type": "object"}}}
    return {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    models: set[type[BaseModel]] = {
        s.ErrorOut,
        s.SandboxReceiptIn,
        s.SandboxInboundIn,
        s.EvidenceLine,
    }
    for _, _, _, _, request, responses in OPERATIONS:
        if request is not None:
            models.add(request)
        models.update(
            m for m in responses.values() if isinstance(m, type) and issubclass(m, BaseModel)
        )
    ordered = sorted(models, key=lambda m: m.__name__)
    _, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template=REF, by_alias=True
    )
    paths: dict[str, dict[str, Any]] = {}
    path_schemas = _path_parameters()
    for method, path, summary, scope, request, responses in OPERATIONS:
        op: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method}_{path}".replace("/", "_").strip("_"),
        }
        params = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        parameters = [
            {"name": p, "in": "path", "required": True, "schema": path_schemas[p]} for p in params
        ] + [{**q, "in": "query", "required": False} for q in QUERY.get((method, path), [])]
        if parameters:
            op["parameters"] = parameters
        if request is not None:
            op["requestBody"] = {"required": True, "content": _content(request)}
        op["responses"] = {
            str(code): {"description": "OK", "content": _content(model)}
            for code, model in responses.items()
        }
        for code, text in ERRORS.items():
            op["responses"].setdefault(
                str(code), {"description": text, "content": _content(s.ErrorOut)}
            )
        if scope is not None:
            op["security"] = [{"apiKey": [scope]}]
            op["x-required-scope"] = scope
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reminder-gateway",
            "version": __version__,
            "description": "Omnichannel reminder gateway for overdue-debt collection.",
        },
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: Authorization: Bearer rg_...",
                }
            },
        },
    }
