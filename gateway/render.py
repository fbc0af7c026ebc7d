"""Rendering of template versions: a sandboxed Jinja environment with locale-aware filters.

Template bodies are edited by operations staff, so they run in Jinja's `SandboxedEnvironment`
with `StrictUndefined`: a template cannot reach Python internals, and a missing variable is an
error at render time instead of a blank in a debtor's message. A template that did not ship with
the gateway (`bounded`, the default) also renders under a budget (`gateway.sandbox`): too much
work or too large a value is a `template_too_costly` error, not a stalled or bloated process. The
pack's own templates skip the metering, which is the hot path of every worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, pass_context
from jinja2.runtime import Context, new_context
from jinja2.sandbox import SandboxedEnvironment

from gateway.errors import ValidationFailed
from gateway.render_budget import MAX_VALUE, TemplateTooCostly, budget
from gateway.sandbox import BudgetedSandbox

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
        return format_currency(Decimal(amount), currency, locale=_babel_locale(locale))
    except (ArithmeticError, ValueError):  # InvalidOperation is an ArithmeticError
        raise ValueError(f"not an amount: {amount[:40]!r}") from None


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


_OPTIONS: dict[str, Any] = {
    "undefined": StrictUndefined,
    "trim_blocks": True,
    "lstrip_blocks": True,
}
_FILTERS: dict[str, Callable[..., Any]] = {"money": money, "date": date_filter, "mask": mask_filter}


@lru_cache(maxsize=4)
def environment(*, html: bool = False, bounded: bool = True) -> SandboxedEnvironment:
    """The environment for text (or, with `html`, autoescaped HTML) parts; `bounded` meters it."""
    if bounded:
        return BudgetedSandbox(filters=_FILTERS, autoescape=html, **_OPTIONS)
    env = SandboxedEnvironment(autoescape=html, **_OPTIONS)
    env.filters.update(_FILTERS)
    return env


@dataclass(frozen=True, slots=True)
class _Compiled:
    template: Template
    globals: dict[str, Any]  # the environment's globals (range, namespace…), as a plain dict

    def render(self, variables: dict[str, Any]) -> str:
        """`Template.render`, without copying the globals' ChainMap for every call: the globals
        are merged into the variables once per call from a plain dict (a third of a short SMS's
        rendering time went to Jinja's ChainMap)."""
        template = self.template
        env = template.environment
        ctx = new_context(
            env,
            template.name,
            template.blocks,
            {**self.globals, **variables},
            shared=True,
            globals=self.globals,
        )
        try:
            return env.concat(template.root_render_func(ctx))  # type: ignore[attr-defined,no-any-return]
        except Exception:  # noqa: BLE001 — re-raised by Jinja, with the template's line
            env.handle_exception()


@lru_cache(maxsize=4096)
def _compile(source: str, html: bool, bounded: bool) -> _Compiled:
    template = environment(html=html, bounded=bounded).from_string(source)
    return _Compiled(template, dict(template.globals))


@lru_cache(maxsize=4096)
def variables(source: str) -> frozenset[str] | None:
    """The top-level names a template part reads (`debtor`, `links`…), so a caller can leave out
    what it does not use; None when the part does not parse (the render then says why)."""
    try:
        return frozenset(meta.find_undeclared_variables(environment().parse(source)))
    except TemplateSyntaxError:
        return None


def render_part(
    source: str, context: dict[str, Any], *, html: bool = False, bounded: bool = True
) -> str:
    """Render one template part; any template problem becomes a `ValidationFailed`
    (`template_too_costly` when it went over its budget, else `template_error`)."""
    try:
        if not bounded:
            return _compile(source, html, False).render(context).strip()
        with budget():
            text = _compile(source, html, True).render(context).strip()
    except TemplateTooCostly as exc:
        raise ValidationFailed(
            f"template is too costly to render: {exc}", code="template_too_costly"
        ) from None
    except RecursionError:
        raise ValidationFailed(
            "template is too costly to render: it calls itself without end",
            code="template_too_costly",
        ) from None
    except MemoryError:
        raise ValidationFailed(
            "template is too costly to render: out of memory", code="template_too_costly"
        ) from None
    except Exception as exc:  # noqa: BLE001 — whatever a template does wrong is the template's
        raise ValidationFailed(
            f"template could not be rendered: {type(exc).__name__}: {exc}"
            if not isinstance(exc, TemplateError | ValueError | TypeError | LookupError)
            else f"template could not be rendered: {exc}",
            code="template_error",
        ) from exc
    if len(text) > 2 * MAX_VALUE:
        raise ValidationFailed(
            f"template is too costly to render: more than {2 * MAX_VALUE:,} characters of output",
            code="template_too_costly",
        )
    return text


def check_syntax(source: str, *, html: bool = False) -> None:
    # Compiled in the budgeted environment: Jinja folds constant expressions while compiling,
    # and only there is `{{ "a" * 10**9 }}` left for the budget to refuse at render time.
    try:
        _compile(source, html, True)
    except TemplateError as exc:
        raise ValidationFailed(f"template syntax error: {exc}", code="template_error") from exc
