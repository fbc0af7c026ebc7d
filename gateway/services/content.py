"""From a message row and its pinned template version to the exact content a provider receives."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from email.utils import formataddr
from types import SimpleNamespace
from typing import Any

from channels.base import Outgoing
from channels.email.tokens import bounce_address, reply_address
from channels.sms.segments import count as count_segments
from gateway.bootstrap import Runtime
from gateway.errors import ValidationFailed
from gateway.render import render_part
from gateway.store.templates import TemplateVersion


def unsubscribe_token(secret: str, message_id: str) -> str:
    sig = hmac.new(
        secret.encode(), f"unsubscribe:{message_id}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    return f"{message_id}.{sig}"


def check_unsubscribe_token(secret: str, token: str) -> str | None:
    """The message id the token was made for, or None if it was not made by us."""
    message_id, _, _ = token.partition(".")
    expected = unsubscribe_token(secret, message_id)
    return message_id if message_id and hmac.compare_digest(expected, token) else None


def context(rt: Runtime, row: Any, now: datetime) -> dict[str, Any]:
    """The variables a template sees. Only the last four digits of an account are ever stored."""
    settings = rt.settings
    debtor = row.debtor
    postal = row.postal or debtor.get("postal_address") or {}
    return {
        "locale": row.locale,
        "case_ref": row.case_ref,
        "today": now.date(),
        "debtor": {
            "name": debtor["name"],
            "first_name": debtor.get("first_name") or debtor["name"],
        },
        "debt": dict(row.debt),
        "address": {
            "lines": postal.get("lines", []),
            "country": postal.get("country", ""),
            "postal_code": postal.get("postal_code"),
        },
        "collector": {
            "name": settings.collector_name,
            "phone": settings.collector_phone,
            "return_address": settings.letter_return_address,
        },
        "links": {
            "unsubscribe": f"{settings.public_url}/v1/unsubscribe/"
            f"{unsubscribe_token(settings.secret, row.id)}"
        },
        "data": row.data or {},
    }


def preview_problem(
    rt: Runtime, item: Any, case: Any, contact: Any, template: TemplateVersion, now: datetime
) -> tuple[str, str] | None:
    """Render a reminder at intake, so an unrenderable template or an SMS longer than the allowed
    number of parts is refused now, with a clear error, instead of being found by the carrier.

    Returns (error code, message) or None. The message is rendered again at send time from the
    case as it is then; this is the check, not the evidence.
    """
    row = SimpleNamespace(
        id="0" * 28,
        case_ref=case.case_ref,
        debtor=case.debtor,
        debt=case.debt,
        locale=case.locale,
        postal=contact.postal,
        data=item.data,
        channel=item.channel,
        address=contact.address,
    )
    try:
        _, rendered = render_message(rt, row, template, now)
    except ValidationFailed as exc:
        return "template_error", exc.message
    limit = rt.settings.sms_max_parts
    if item.channel == "sms" and rendered["parts"] > limit:
        return (
            "sms_too_long",
            f"the rendered SMS needs {rendered['parts']} parts ({rendered['encoding']}, {rendered['units']} units); "
            f"at most {limit} are allowed (SMS_MAX_PARTS)",
        )
    return None


def _provider_templates(template: TemplateVersion, ctx: dict[str, Any]) -> dict[str, Any]:
    """The template's pre-approved provider templates with their parameters filled in."""
    out = {}
    for provider, spec in (template.meta.get("provider_templates") or {}).items():
        params = {
            name: render_part(str(source), ctx) for name, source in spec.get("params", {}).items()
        }
        out[provider] = {"code": spec["code"], "sign": spec.get("sign"), "params": params}
    return out


def render_message(
    rt: Runtime, row: Any, template: TemplateVersion, now: datetime
) -> tuple[Outgoing, dict[str, Any]]:
    """Render the pinned version. Raises `ValidationFailed` if the template cannot be rendered."""
    ctx = context(rt, row, now)
    pinned = {
        "template_id": template.id,
        "template": template.key,
        "version": template.version,
        "locale": template.locale,
    }
    if row.channel == "sms":
        body = render_part(template.body, ctx)
        seg = count_segments(body)
        rendered = {
            **pinned,
            "body": body,
            "encoding": seg.encoding,
            "units": seg.units,
            "parts": seg.parts,
        }
        provider_templates = _provider_templates(template, ctx)
        if provider_templates:
            rendered["provider_templates"] = provider_templates
        outgoing = Outgoing(
            row.id,
            "sms",
            row.address,
            body,
            locale=row.locale,
            provider_templates=provider_templates,
        )
        return outgoing, rendered
    if row.channel == "email":
        subject = render_part(template.subject or "", ctx)
        text = render_part(template.body, ctx)
        html = render_part(template.html, ctx, html=True) if template.html else None
        rendered = {**pinned, "subject": subject, "text": text, "html": html}
        unsubscribe = ctx["links"]["unsubscribe"]
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        settings = rt.settings
        case_id = getattr(row, "case_id", None)  # absent in intake's preview rendering
        if settings.reply_domain and case_id is not None:
            # Replies reach the case whichever mailbox they are written from.
            address = reply_address(settings.secret, case_id, settings.reply_domain)
            headers["Reply-To"] = formataddr((settings.collector_name, address))
        envelope_from = (
            bounce_address(settings.secret, row.id, settings.bounce_domain)
            if settings.bounce_domain
            else None
        )
        return Outgoing(
            row.id,
            "email",
            row.address,
            text,
            subject=subject,
            html=html,
            locale=row.locale,
            headers=headers,
            envelope_from=envelope_from,
        ), rendered
    html = render_part(template.body, ctx, html=True)
    rendered = {**pinned, "html": html}
    return Outgoing(
        row.id,
        "letter",
        row.address,
        html,
        html=html,
        postal=row.postal,
        recipient_name=row.debtor["name"],
        locale=row.locale,
    ), rendered
