"""The OpenAPI 3.1 document, built from the same pydantic models the handlers validate with.

`OPERATIONS` lists every route; a test checks it against the app's router, so a handler cannot be
added without being documented.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from gateway import __version__
from gateway import schemas as s
from gateway.providers import REGISTRY
from gateway.schemas import webhooks as ws

MESSAGE_ID = r"^[0-9a-f]{28}$"  # gateway.ids.new_id
UNSUBSCRIBE_TOKEN = (
    r"^[0-9a-f]{28}\.[0-9a-f]{32}$"  # gateway.services.unsubscribe.unsubscribe_token
)

WEBHOOK_ID = r"^wh_[0-9a-f]{24}$"  # gateway.store.webhooks.create

REF = "#/components/schemas/{model}"

# (method, path, summary, scope or None, request model or None, {status: model or None})
OPERATIONS: list[tuple[str, str, str, str | None, type[BaseModel] | None, dict[int, Any]]] = [
    (
        "put",
        "/v1/cases/{case_ref}",
        "Create or update a case",
        "cases:write",
        s.CaseIn,
        {200: s.CaseOut, 201: s.CaseOut},
    ),
    ("get", "/v1/cases/{case_ref}", "Read a case", "cases:read", None, {200: s.CaseOut}),
    (
        "post",
        "/v1/policy/evaluate",
        "What the contact policy would decide for a case and channel at a time (nothing is sent)",
        "cases:read",
        s.PolicyEvaluateIn,
        {200: s.PolicyEvaluateOut},
    ),
    (
        "post",
        "/v1/cases/{case_ref}/events",
        "Record an upstream fact: payment, promise, dispute, hold, release, close, cease",
        "cases:write",
        s.CaseEventIn,
        {200: s.CaseEventOut},
    ),
    (
        "get",
        "/v1/cases/{case_ref}/timeline",
        "Read a case's timeline",
        "cases:read",
        None,
        {200: s.TimelineOut},
    ),
    ("get", "/v1/cadences", "The follow-up cadences", "cases:read", None, {200: s.CadenceListOut}),
    ("get", "/v1/cadences/{cadence}", "One cadence", "cases:read", None, {200: s.CadenceOut}),
    (
        "put",
        "/v1/cases/{case_ref}/cadence",
        "Start a cadence on a case, or replace the one running (the same body again: no change)",
        "cases:write",
        s.CadenceRunIn,
        {200: s.CadenceRunOut},
    ),
    (
        "get",
        "/v1/cases/{case_ref}/cadence",
        "The case's cadence: each step's state and due time",
        "cases:read",
        None,
        {200: s.CadenceRunOut},
    ),
    (
        "delete",
        "/v1/cases/{case_ref}/cadence",
        "Stop the case's cadence (pending steps cancelled)",
        "cases:write",
        None,
        {200: s.CadenceRunOut},
    ),
    (
        "get",
        "/v1/cases/{case_ref}/export",
        "Evidence export of a case: every message, decision, receipt, reply and timeline entry, "
        "one JSON line per record in time order (application/x-ndjson, streamed)",
        "cases:read",
        None,
        {200: "ndjson"},
    ),
    (
        "post",
        "/v1/reminders",
        "Enqueue one reminder",
        "reminders:write",
        s.ReminderIn,
        {202: s.ReminderResult, 200: s.ReminderResult},
    ),
    (
        "post",
        "/v1/reminders/batch",
        "Enqueue up to 1,000 reminders",
        "reminders:write",
        s.BatchIn,
        {202: s.BatchOut},
    ),
    (
        "get",
        "/v1/messages/{message_id}",
        "Read a message: state, attempts, events, content",
        "cases:read",
        None,
        {200: s.MessageOut},
    ),
    (
        "post",
        "/v1/templates/lint",
        "Check a template against a preset's content rules, rendered with sample case data",
        "templates:write",
        s.TemplateLintIn,
        {200: s.TemplateLintOut},
    ),
    (
        "post",
        "/v1/providers/{provider}/receipts",
        "Delivery receipts from a provider (signed)",
        None,
        None,
        {200: "object"},
    ),
    (
        "post",
        "/v1/providers/{provider}/inbound",
        "Inbound replies from a provider (signed)",
        None,
        None,
        {200: "object"},
    ),
    (
        "post",
        "/v1/webhooks",
        "Register a webhook (its signing secret is in this answer only)",
        "cases:write",
        ws.WebhookIn,
        {201: ws.WebhookCreated},
    ),
    ("get", "/v1/webhooks", "This API key's webhooks", "cases:read", None, {200: ws.WebhookList}),
    (
        "delete",
        "/v1/webhooks/{webhook_id}",
        "Delete a webhook; its undelivered events are not sent",
        "cases:write",
        None,
        {200: ws.WebhookOut},
    ),
    (
        "get",
        "/v1/webhooks/{webhook_id}/deliveries",
        "A webhook's deliveries, oldest first (paged by `after` and `limit`)",
        "cases:read",
        None,
        {200: ws.DeliveryPage},
    ),
    (
        "post",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "Send a delivery again now",
        "cases:write",
        None,
        {202: ws.DeliveryOut},
    ),
    ("get", "/v1/sandbox/sms", "SMS held by the sandbox provider", "ops", None, {200: "object"}),
    (
        "get",
        "/v1/sandbox/email",
        "Mail caught by the local SMTP catcher",
        "ops",
        None,
        {200: "object"},
    ),
    ("get", "/v1/unsubscribe/{token}", "One-click unsubscribe page", None, None, {200: "html"}),
    (
        "post",
        "/v1/unsubscribe/{token}",
        "One-click unsubscribe (RFC 8058)",
        None,
        None,
        {200: "object"},
    ),
    ("get", "/healthz", "Liveness and readiness", None, None, {200: "object", 503: "object"}),
    ("get", "/metrics", "Prometheus metrics", None, None, {200: "text"}),
    ("get", "/openapi.json", "This document", None, None, {200: "object"}),
]

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
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": path_schemas[p]}
                for p in params
            ]
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
