"""From a message row and its pinned template version to the exact content a provider receives."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import formataddr
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Protocol

from channels.base import Outgoing
from channels.email.tokens import bounce_address, reply_address
from channels.letter.address import block as address_block
from channels.sms.segments import count as count_segments
from gateway.errors import ValidationFailed
from gateway.render import MASK_CHAR, render_part, variables
from gateway.runtime import Runtime
from gateway.services.unsubscribe import unsubscribe_link
from gateway.settings import Settings
from gateway.store.templates import TemplateVersion
from scheduler.content import ContentFacts
from scheduler.content import check as check_content
from scheduler.decisions import Decision
from scheduler.presets import Preset
from scheduler.us_states import zip_state


class Renderer(Protocol):
    """What rendering needs of a runtime: the settings and the presets (a `Runtime` has both)."""

    settings: Settings
    presets: dict[str, Preset]


def context(
    rt: Renderer, row: Any, now: datetime, uses: frozenset[str] | None = None
) -> dict[str, Any]:
    """The variables a template sees. Only the last four digits of an account are ever stored.

    `case` says which rules the message must satisfy (preset, its jurisdiction, the collector's
    role) so one template can word itself for each; `masking` drives the `mask` filter. With
    `uses` (the names the template reads, `template_uses`), the costly parts a template does not
    read are left out: the address block and the signed links.
    """
    settings = rt.settings
    debtor = row.debtor
    preset_name = getattr(row, "preset", "") or ""
    preset = getattr(rt, "presets", {}).get(preset_name)
    masking = preset.content.masking if preset is not None else None
    out: dict[str, Any] = {
        "locale": row.locale,
        "case_ref": row.case_ref,
        "today": now.date(),
        "case": {
            "ref": row.case_ref,
            "preset": preset_name,
            "jurisdiction": preset.jurisdiction if preset is not None else "",
            "collector_role": getattr(row, "collector_role", None) or "first_party",
        },
        "debtor": {
            "name": debtor["name"],
            "first_name": debtor.get("first_name") or debtor["name"],
        },
        "debt": {**row.debt, "sol_expired": bool(row.debt.get("sol_expired", False))},
        "masking": {
            "visible": masking.account_digits_visible if masking else 4,
            "char": masking.mask_char if masking else MASK_CHAR,
        },
        "collector": {
            "name": settings.collector_name,
            "phone": settings.collector_phone,
            "return_address": settings.letter_return_address,
        },
        "data": row.data or {},
    }
    if uses is None or "address" in uses:
        postal = row.postal or debtor.get("postal_address") or {}
        mailed = mailing_address(postal, settings)
        out["address"] = {
            # The printed block (street lines, then the place); the fields one by one below.
            "lines": mailed["block"],
            "street": postal.get("lines", []),
            "city": mailed.get("city"),
            "region": mailed.get("region"),
            "postal_code": postal.get("postal_code"),
            "country": postal.get("country", ""),
        }
    if uses is None or "links" in uses:
        out["links"] = {
            "unsubscribe": unsubscribe_link(settings, row.id),
            "privacy": settings.privacy_url or f"{settings.public_url}/privacy",
        }
    return out


def template_uses(template: TemplateVersion) -> frozenset[str] | None:
    """Every top-level name the version's parts read (None when one does not parse)."""
    return _uses(_sources(template))


def _sources(template: TemplateVersion) -> tuple[str, ...]:
    params = [
        str(source)
        for spec in (template.meta.get("provider_templates") or {}).values()
        for source in spec.get("params", {}).values()
    ]
    return (template.body, template.subject or "", template.html or "", *params)


@lru_cache(maxsize=1024)
def _uses(sources: tuple[str, ...]) -> frozenset[str] | None:
    names: set[str] = set()
    for source in sources:
        found = variables(source)
        if found is None:
            return None
        names |= found
    return frozenset(names)


def mailing_address(postal: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The postal address as it is mailed: a US address that names its city but no state gets
    its ZIP code's state (USPS wants "City, ST 12345"), and `block` holds the lines the envelope
    window shows (channels.letter.address)."""
    mailed = dict(postal)
    named = mailed.get("country") == "US" and mailed.get("city") and not mailed.get("region")
    if named and (state := zip_state(str(mailed.get("postal_code") or ""))):
        mailed["region"] = state
    mailed["block"] = address_block(mailed, settings.letter_return_country)
    return mailed


def content_facts(settings: Settings, row: Any, account: str | None = None) -> ContentFacts:
    """The facts the content rules read, from a message row (or lint's sample row)."""
    return ContentFacts(
        locale=row.locale,
        collector_role=getattr(row, "collector_role", None) or "first_party",
        sol_expired=bool(row.debt.get("sol_expired", False)),
        collector_name=settings.collector_name,
        collector_phone=settings.collector_phone,
        account=row.debt.get("account", "") if account is None else account,
    )


def content_gate(rt: Renderer, row: Any, rendered: dict[str, Any]) -> Decision | None:
    """The content gate on a rendered message: None, or SUPPRESS with the rule that failed."""
    preset = rt.presets.get(row.preset)
    if preset is None:
        return None
    facts = content_facts(rt.settings, row)
    return check_content(rendered, row.channel, row.purpose, preset, facts)


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
        preset=case.preset,
        collector_role=case.collector_role,
    )
    try:
        _, rendered = render_message(rt, row, template, now)
    except ValidationFailed as exc:
        return exc.code, exc.message  # template_error, or template_too_costly
    limit = rt.settings.sms_max_parts
    if item.channel == "sms" and rendered["parts"] > limit:
        return (
            "sms_too_long",
            f"the rendered SMS needs {rendered['parts']} parts ({rendered['encoding']}, {rendered['units']} units); "
            f"at most {limit} are allowed (SMS_MAX_PARTS)",
        )
    return None


def shipped(template: TemplateVersion) -> bool:
    """Whether a version is the pack's own, installed from the gateway's files unchanged."""
    return template.meta.get("source") == "pack"


def _provider_templates(template: TemplateVersion, ctx: dict[str, Any]) -> dict[str, Any]:
    """The template's pre-approved provider templates with their parameters filled in."""
    out = {}
    bounded = not shipped(template)
    for provider, spec in (template.meta.get("provider_templates") or {}).items():
        params = {
            name: render_part(str(source), ctx, bounded=bounded)
            for name, source in spec.get("params", {}).items()
        }
        out[provider] = {"code": spec["code"], "sign": spec.get("sign"), "params": params}
    return out


def render_message(
    rt: Renderer, row: Any, template: TemplateVersion, now: datetime
) -> tuple[Outgoing, dict[str, Any]]:
    """Render the pinned version. Raises `ValidationFailed` if the template cannot be rendered.

    A version that did not ship with the gateway renders under the budget (`gateway.sandbox`):
    in-process, since a process hop per message would halve a worker's rate, and safe there
    because every loop, call, value and write is metered. The pack's versions skip the meter.
    """
    ctx = context(rt, row, now, template_uses(template))
    bounded = not shipped(template)
    pinned = {
        "template_id": template.id,
        "template": template.key,
        "version": template.version,
        "locale": template.locale,
    }
    if row.channel == "sms":
        body = render_part(template.body, ctx, bounded=bounded)
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
        subject = render_part(template.subject or "", ctx, bounded=bounded)
        text = render_part(template.body, ctx, bounded=bounded)
        html = (
            render_part(template.html, ctx, html=True, bounded=bounded) if template.html else None
        )
        rendered = {**pinned, "subject": subject, "text": text, "html": html}
        unsubscribe = unsubscribe_link(rt.settings, row.id)
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
    html = render_part(template.body, ctx, html=True, bounded=bounded)
    rendered = {**pinned, "html": html}
    return Outgoing(
        row.id,
        "letter",
        row.address,
        html,
        html=html,
        postal=mailing_address(row.postal, rt.settings) if row.postal else row.postal,
        recipient_name=row.debtor["name"],
        locale=row.locale,
    ), rendered
