"""Every route of the API, as the OpenAPI document states it: method, path, summary, the scope it
needs, its request model and its answers' models (`gateway.api.openapi` builds the document;
a test checks this list against the app's router, so a handler cannot be added undocumented)."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter

from gateway import schemas as s
from gateway.replies import Category
from gateway.schemas import replies as rs
from gateway.schemas import webhooks as ws

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
        "delete",
        "/v1/messages/{message_id}",
        "Cancel a message still waiting (409 once it was handed to a provider; again: no change)",
        "reminders:write",
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
    (
        "get",
        "/v1/replies",
        "The operators' inbox: replies a person must read, oldest first (paged by `cursor`)",
        "ops",
        None,
        {200: rs.ReplyPage},
    ),
    ("get", "/v1/replies/{reply_id}", "One reply", "ops", None, {200: rs.ReplyOut}),
    (
        "post",
        "/v1/replies/{reply_id}/resolve",
        "Resolve an open reply: the category a person read in it, applied as the gateway would",
        "ops",
        rs.ReplyResolveIn,
        {200: rs.ReplyOut},
    ),
    (
        "post",
        "/v1/cases/{case_ref}/replies",
        "Record a reply received by letter, phone or elsewhere: read and acted on as any reply",
        "ops",
        rs.ReplyRecordIn,
        {201: rs.ReplyOut},
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

# The query parameters of the operations that take them, as OpenAPI parameter objects.
QUERY: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("get", "/v1/replies"): [
        {"name": "status", "schema": {"enum": ["open", "resolved", "all"], "default": "open"}},
        {"name": "category", "schema": {"enum": [c.value for c in Category]}},
        {"name": "case_ref", "schema": TypeAdapter(s.Ref).json_schema()},
        {"name": "channel", "schema": {"enum": list(get_args(rs.RecordedChannel))}},
        {
            "name": "limit",
            "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
        },
        {
            "name": "cursor",
            "description": "next_cursor of the previous page",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 24,
                "pattern": r"^[A-Za-z0-9_-]+$",
            },
        },
    ],
}
