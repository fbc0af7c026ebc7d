from datetime import UTC, date, datetime

import pytest

from gateway.errors import ValidationFailed
from gateway.render import check_syntax, mask, render_part
from gateway.store.templates import CHANNELS, LOCALES, PARTS, load_pack


def test_money_and_dates_follow_the_locale() -> None:
    source = "{{ 1234.5 | money('USD') }} {{ d | date }}"
    assert (
        render_part(source, {"locale": "en", "d": date(2026, 10, 1)}) == "$1,234.50 October 1, 2026"
    )
    zh = render_part(
        "{{ 1234.5 | money('CNY') }} {{ d | date }}", {"locale": "zh-CN", "d": "2026-10-01"}
    )
    assert zh == "¥1,234.50 2026年10月1日"


def test_mask_keeps_the_last_four_only() -> None:
    assert mask("4111 1111 1111 1234") == "****1234"
    assert mask("4111111111111234", plain=True) == "1234"


def test_missing_variable_is_an_error_not_a_blank() -> None:
    with pytest.raises(ValidationFailed) as err:
        render_part("Hi {{ debtor.name }}", {"locale": "en", "debtor": {}})
    assert err.value.code == "template_error"


def test_the_sandbox_blocks_python_internals() -> None:
    with pytest.raises(ValidationFailed):
        render_part("{{ ''.__class__.__mro__[1].__subclasses__() }}", {"locale": "en"})


def test_html_parts_are_autoescaped() -> None:
    assert render_part("<p>{{ name }}</p>", {"name": "<script>x</script>"}, html=True) == (
        "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    )


def test_syntax_errors_are_reported() -> None:
    with pytest.raises(ValidationFailed):
        check_syntax("{% if %}")


def test_the_pack_has_first_notice_for_every_channel_and_locale() -> None:
    pack = {(t["key"], t["channel"], t["locale"]): t for t in load_pack()}
    for channel in CHANNELS:
        for locale in LOCALES:
            template = pack[("first_notice", channel, locale)]
            for column in PARTS[channel].values():
                assert template[column], (channel, locale, column)


@pytest.mark.parametrize("locale", LOCALES)
def test_sms_and_email_carry_opt_out_instructions(locale: str) -> None:
    pack = {(t["key"], t["channel"], t["locale"]): t for t in load_pack()}
    word = "STOP" if locale == "en" else "退订"
    assert word in pack[("first_notice", "sms", locale)]["body"]
    assert word in pack[("first_notice", "email", locale)]["body"]
    assert "links.unsubscribe" in pack[("first_notice", "email", locale)]["html"]


def test_eu_messages_link_the_configured_privacy_notice() -> None:
    from types import SimpleNamespace

    from gateway.services.content import context
    from gateway.settings import Settings
    from scheduler.presets import load_presets

    presets = load_presets()
    row = SimpleNamespace(
        id="0" * 28,
        case_ref="EU-1",
        debtor={"name": "Jean Dupont", "first_name": "Jean"},
        debt={"amount": "1.00", "currency": "EUR", "account": "1234"},
        locale="en",
        postal=None,
        data={},
        preset="EU",
        collector_role="first_party",
    )
    for env, link in (
        ({}, "http://127.0.0.1:8080/privacy"),
        ({"PRIVACY_NOTICE_URL": "https://acme.example/privacy"}, "https://acme.example/privacy"),
    ):
        rt = SimpleNamespace(settings=Settings.from_env(env), presets=presets)
        assert context(rt, row, datetime(2026, 12, 1, tzinfo=UTC))["links"]["privacy"] == link


def test_the_names_a_template_reads_are_known_and_only_those_are_built() -> None:
    from types import SimpleNamespace

    from gateway.render import variables
    from gateway.services.content import context
    from gateway.settings import Settings

    assert variables(
        "Hi {{ debtor.first_name }}, {{ links.unsubscribe }} {% set x = 1 %}{{ x }}"
    ) == {
        "debtor",
        "links",
    }
    assert variables("{{ unclosed") is None
    row = SimpleNamespace(
        id="0" * 28,
        case_ref="US-1",
        debtor={"name": "Ann Lee"},
        debt={"amount": "1.00", "currency": "USD"},
        locale="en",
        postal={"lines": ["1 Main St"], "city": "Albany", "postal_code": "12207", "country": "US"},
        data={},
    )
    rt = SimpleNamespace(settings=Settings.from_env({}), presets={})
    now = datetime(2026, 12, 1, tzinfo=UTC)
    everything = context(rt, row, now)
    assert everything["address"]["region"] == "NY" and "unsubscribe" in everything["links"]
    lean = context(rt, row, now, frozenset({"debtor"}))
    assert "address" not in lean and "links" not in lean
    assert lean["debtor"] == everything["debtor"]
    with pytest.raises(ValidationFailed, match="links"):
        render_part("{{ links.unsubscribe }}", lean)
