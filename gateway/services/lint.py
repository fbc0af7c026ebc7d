"""Template lint: render a template with sample case data and run the content gate on it.

The same rules as at send time (scheduler/content.py), on what a debtor of a given preset and
collector role would read. Used by `POST /v1/templates/lint` and `reminder-gateway lint-templates`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import product
from types import SimpleNamespace
from typing import Any

from gateway.errors import ValidationFailed
from gateway.render import check_syntax
from gateway.schemas import TemplateLintIn, TemplateLintOut, TemplateProblemOut
from gateway.services.content import Renderer, content_facts, render_message
from gateway.settings import Settings
from gateway.store.templates import TemplateVersion
from scheduler.content import Problem, problems
from scheduler.presets import Preset, load_presets

SAMPLE_ACCOUNT = "4111 1111 1111 1234"
_CURRENCY = {"US": "USD", "GB": "GBP", "CN": "CNY", "EU": "EUR"}
_NAMES = {"zh": ("王小明", "小明")}
ROLES = ("first_party", "third_party")


def sample_row(
    channel: str,
    locale: str,
    preset: Preset,
    *,
    collector_role: str,
    sol_expired: bool = False,
    data: Mapping[str, Any] | None = None,
) -> SimpleNamespace:
    """A message row for a made-up debtor of `preset`, as the dispatcher would load it."""
    name, first = _NAMES.get(locale.split("-")[0], ("Jane Doe", "Jane"))
    digits = "".join(ch for ch in SAMPLE_ACCOUNT if ch.isalnum())
    postal = {
        "lines": ["12 Main St", "Springfield, IL 62701"],
        "country": "US",
        "postal_code": "62701",
    }
    return SimpleNamespace(
        id="0" * 28,
        case_ref="SAMPLE-1",
        debtor={"name": name, "first_name": first, "postal_address": postal},
        debt={
            "amount": "420.50",
            "currency": _CURRENCY.get(preset.jurisdiction, "USD"),
            "due_date": "2026-10-01",
            "days_past_due": 52,
            "account": digits[-4:],  # only the tail is ever stored
            "sol_expired": sol_expired,
        },
        locale=locale,
        postal=postal,
        data=dict(data or {}),
        channel=channel,
        address="sample",
        preset=preset.name,
        collector_role=collector_role,
        purpose="reminder",
    )


def check_template(template: TemplateVersion) -> None:
    """Syntax of every part; `ValidationFailed` (template_error) names the part."""
    parts = {"subject": template.subject, "body": template.body, "html": template.html}
    for part, source in parts.items():
        if source is None:
            continue
        try:
            check_syntax(source, html=part == "html" or template.channel == "letter")
        except ValidationFailed as exc:
            raise ValidationFailed(f"{part}: {exc.message}", code="template_error") from None


def lint(
    rt: Renderer,
    template: TemplateVersion,
    preset: Preset,
    *,
    collector_role: str,
    purpose: str,
    now: datetime,
    sol_expired: bool = False,
    data: Mapping[str, Any] | None = None,
) -> tuple[list[Problem], dict[str, Any]]:
    """The content problems of `template` for a sample case, and what it rendered to.

    Raises `ValidationFailed` (template_error) when the template does not render.
    """
    check_template(template)
    row = sample_row(
        template.channel,
        template.locale,
        preset,
        collector_role=collector_role,
        sol_expired=sol_expired,
        data=data,
    )
    _, rendered = render_message(rt, row, template, now)
    facts = content_facts(rt.settings, row, account=SAMPLE_ACCOUNT)
    return problems(rendered, template.channel, purpose, preset, facts), rendered


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of one pack template under one preset, with the cases it shows up in."""

    template: str  # channel/locale/key
    preset: str
    message: str
    cases: tuple[str, ...]


def lint_pack(
    rt: Renderer, pack: Iterable[Mapping[str, Any]], presets: Iterable[Preset], now: datetime
) -> list[Finding]:
    """Lint every pack template against every preset, for both collector roles and with the debt
    time-barred or not. A template's purpose and sample `data` come from its meta."""
    findings: dict[tuple[str, str, str], list[str]] = {}
    for item, preset in product(list(pack), list(presets)):
        meta = item.get("meta") or {}
        template = TemplateVersion(
            0,
            item["key"],
            item["channel"],
            item["locale"],
            0,
            item.get("subject"),
            item["body"],
            item.get("html"),
            dict(meta),
        )
        name = f"{item['channel']}/{item['locale']}/{item['key']}"
        for role, sol_expired in product(ROLES, (False, True)):
            case = role + (", sol_expired" if sol_expired else "")
            try:
                found, _ = lint(
                    rt,
                    template,
                    preset,
                    collector_role=role,
                    purpose=str(meta.get("purpose", "reminder")),
                    now=now,
                    sol_expired=sol_expired,
                    data=meta.get("sample_data"),
                )
                messages = [f"{p.rule}: {p.message}" for p in found]
            except ValidationFailed as exc:
                messages = [f"template_error: {exc.message}"]
            for message in messages:
                findings.setdefault((name, preset.name, message), []).append(case)
    return [Finding(t, p, m, tuple(cases)) for (t, p, m), cases in findings.items()]


def child_state(settings: Settings) -> Renderer:
    """What a render child (`gateway.render_pool`) lints with: the settings and their presets."""
    return SimpleNamespace(settings=settings, presets=load_presets(settings.presets_dir))


def lint_request(rt: Renderer, body: TemplateLintIn, now: datetime) -> TemplateLintOut:
    """Answer `POST /v1/templates/lint`: 422 for an unknown preset or a template that does not
    render; otherwise every content problem (an empty list when the template passes)."""
    preset = rt.presets.get(body.preset)
    if preset is None:
        raise ValidationFailed(
            f"unknown preset {body.preset!r}; known: {', '.join(sorted(rt.presets))}",
            details=[{"field": "preset", "problem": "unknown preset", "type": "unknown_preset"}],
        )
    template = TemplateVersion(
        0, "lint", body.channel, body.locale, 0, body.subject, body.body, body.html, {}
    )
    found, rendered = lint(
        rt,
        template,
        preset,
        collector_role=body.collector_role,
        purpose=body.purpose,
        now=now,
        sol_expired=body.sol_expired,
        data=body.data,
    )
    shown = {k: v for k, v in rendered.items() if k not in {"template_id", "template", "version"}}
    return TemplateLintOut(
        ok=not found,
        problems=[
            TemplateProblemOut(
                rule=p.rule,  # type: ignore[arg-type]
                block=p.block,
                phrase=p.phrase,
                part=p.part,
                message=p.message,
            )
            for p in found
        ],
        preset=preset.name,
        rendered=shown,
    )
