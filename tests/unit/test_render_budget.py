"""A template that did not ship with the gateway renders under a budget: sizes, steps and output.

Each hostile template below used to hang the process, grow it by gigabytes or raise an uncaught
error (a 500 through the API). Each must now be refused with a `template_too_costly` error after
little work: the budget counts steps, so these tests do not depend on the machine's speed.
"""

from __future__ import annotations

import time

import pytest

from gateway.errors import ValidationFailed
from gateway.render import render_part

HOSTILE = {
    "string repetition": '{{ "a" * 10**9 }}',
    "huge range": "{% for x in range(10**9) %}{{ x }}{% endfor %}",
    "power tower": "{{ 2 ** (10 ** 9) }}",
    "squaring in a loop": (
        "{% set ns = namespace(n=10) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}"
        "{% endfor %}{{ ns.n > 0 }}"
    ),
    "percent width": '{{ "%0999999999d" % 1 }}',
    "format width": '{{ "{:>999999999}".format(1) }}',
    "format filter width": '{{ "%*d"|format(999999999, 1) }}',
    "center method": '{{ "x".center(10**9) }}',
    "center filter": '{{ "x"|center(10**9) }}',
    "indent filter": '{{ "x\ny"|indent(10**9) }}',
    "batch filter": "{{ [1]|batch(10**9, 0)|list|length }}",
    "doubling by concatenation": (
        '{% set ns = namespace(s="ab") %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}'
        "{% endfor %}{{ ns.s|length }}"
    ),
    "doubling by nesting": (
        "{% set ns = namespace(t=[1]) %}{% for i in range(64) %}{% set ns.t = [ns.t, ns.t] %}"
        "{% endfor %}{{ ns.t }}"
    ),
    "replace blow-up": '{{ ("a" * 10000)|replace("a", "a" * 10000)|length }}',
    "replace method blow-up": '{{ ("a" * 10000).replace("a", "a" * 10000)|length }}',
    "exponential macro": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"
    ),
    "unbounded recursion": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "nested loops": (
        "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    ),
    "nested loops over a list": (
        "{% set l = range(5000)|list %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}"
    ),
    "large output": '{% for a in range(100000) %}{{ "x" * 1000 }}{% endfor %}',
    "lorem ipsum": "{{ lipsum(100000) }}",
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_hostile_templates_are_refused(source: str, html: bool) -> None:
    with pytest.raises(ValidationFailed) as err:
        render_part(source, {"locale": "en"}, html=html)
    assert err.value.status == 422
    assert err.value.code in {"template_too_costly", "template_error"}, err.value.message


def test_the_error_says_which_limit_was_reached() -> None:
    with pytest.raises(ValidationFailed) as err:
        render_part('{{ "a" * 10**9 }}', {"locale": "en"})
    assert err.value.code == "template_too_costly"
    assert "characters" in err.value.message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ('{{ "-" * 20 }}', "-" * 20),
        ("{{ 2 ** 10 }} {{ 7 * 6 }} {{ '%05.2f' % 3.14159 }}", "1024 42 03.14"),
        ('[{{ "{:>6}".format("ab") }}|{{ "ab"|center(6) }}]', "[    ab|  ab  ]"),
        ("{{ [1, 2, 3]|batch(2)|list }}", "[[1, 2], [3]]"),
        ('{{ "a b c".replace(" ", ", ") }} {{ ["x", "y"]|join("+") }}', "a, b, c x+y"),
        (
            "{% macro greet(n) %}Hi {{ n }}{% endmacro %}{{ greet('Jane') }}; "
            "{{ {'k': [1, (2, 3)]}['k'][1][0] }}",
            "Hi Jane; 2",
        ),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: str) -> None:
    assert render_part(source, {"locale": "en"}) == expected


def test_send_time_rendering_meters_only_versions_that_did_not_ship() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from gateway.services.content import render_message
    from gateway.services.lint import sample_row
    from gateway.settings import Settings
    from gateway.store.templates import TemplateVersion
    from scheduler.presets import load_presets

    settings = Settings.from_env({})
    rt = SimpleNamespace(settings=settings, presets=load_presets(settings.presets_dir))
    row = sample_row("sms", "en", rt.presets["US-RegF"], collector_role="first_party")
    body = "{% for i in range(20000) %}{% endfor %}Hi {{ debtor.first_name }}"
    now = datetime(2026, 11, 23, 15, tzinfo=UTC)

    def version(meta: dict[str, str]) -> TemplateVersion:
        return TemplateVersion(1, "k", "sms", "en", 1, None, body, None, meta)

    _, shipped = render_message(rt, row, version({"source": "pack"}), now)
    assert shipped["body"] == "Hi Jane"
    with pytest.raises(ValidationFailed) as err:
        render_message(rt, row, version({}), now)
    assert err.value.code == "template_too_costly"


def test_the_deadline_counts_the_render_s_cpu_time_not_the_wait_for_a_core() -> None:
    from gateway.render_budget import TemplateTooCostly, budget

    with budget(0.05) as b:
        time.sleep(0.1)  # descheduled, as on a loaded machine: no CPU spent
        b.step()
    with budget(0.05) as b, pytest.raises(TemplateTooCostly, match="too long"):
        start = time.thread_time()
        while time.thread_time() - start < 0.06:  # spinning is spending
            pass
        b.step()
