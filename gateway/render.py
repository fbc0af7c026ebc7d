"""Rendering of template versions: a sandboxed Jinja environment with locale-aware filters.

Template bodies are edited by operations staff, so they run in Jinja's `SandboxedEnvironment`
with `StrictUndefined`: a template cannot reach Python internals, and a missing variable is an
error at render time instead of a blank in a debtor's message.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import StrictUndefined, TemplateError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from gateway.errors import ValidationFailed

MASK_CHAR = "*"


@lru_cache(maxsize=64)
def _babel_locale(locale: str) -> Locale:
    # Parsing a locale's CLDR data costs ~0.1 ms; each locale is parsed once per process.
    return Locale.parse(locale.replace("-", "_"))


# Formatting is pure and costs tens of microseconds in babel; a reminder run repeats the same
# amounts, dates and locales many times, so results are cached per process.
@lru_cache(maxsize=8192)
def _format_money(amount: str, currency: str, locale: str) -> str:
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError):
        raise ValueError(f"not an amount: {amount!r}") from None
    return format_currency(value, currency, locale=_babel_locale(locale))


@lru_cache(maxsize=4096)
def _format_date(value: date, fmt: str, locale: str) -> str:
    return format_date(value, format=fmt, locale=_babel_locale(locale))


@pass_context
def money(ctx: Context, amount: Any, currency: str = "USD") -> str:
    return _format_money(str(amount), str(currency), ctx.get("locale", "en"))


@pass_context
def date_filter(ctx: Context, value: Any, fmt: str = "long") -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise ValueError(f"not a date: {value!r}")
    return _format_date(value, fmt, ctx.get("locale", "en"))


def mask(value: Any, visible: int = 4, plain: bool = False, char: str = MASK_CHAR) -> str:
    """The last `visible` digits of an account number; with `plain`, the digits alone (尾号1234)."""
    digits = "".join(ch for ch in str(value) if ch.isalnum())
    tail = digits[-visible:] if visible > 0 else ""
    return tail if plain else char * 4 + tail


@pass_context
def mask_filter(ctx: Context, value: Any, visible: int | None = None, plain: bool = False) -> str:
    """`mask` with the case's preset masking (`masking` in the context) unless told otherwise."""
    masking = ctx.get("masking") or {}
    shown = masking.get("visible", 4) if visible is None else visible
    return mask(value, shown, plain, masking.get("char", MASK_CHAR))


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(money=money, date=date_filter, mask=mask_filter)
    return env


@lru_cache(maxsize=1)
def html_environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(money=money, date=date_filter, mask=mask_filter)
    return env


@lru_cache(maxsize=4096)
def _compile(source: str, html: bool) -> Any:
    env = html_environment() if html else environment()
    return env.from_string(source)


def render_part(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    """Render one template part; any template problem becomes a `ValidationFailed`."""
    try:
        return _compile(source, html).render(context).strip()
    except (TemplateError, ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed(
            f"template could not be rendered: {exc}", code="template_error"
        ) from exc


def check_syntax(source: str, *, html: bool = False) -> None:
    try:
        _compile(source, html)
    except TemplateError as exc:
        raise ValidationFailed(f"template syntax error: {exc}", code="template_error") from exc
