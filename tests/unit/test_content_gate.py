"""The content gate: required blocks per preset, channel and role; forbidden phrases; masking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scheduler.content import ContentFacts, check, html_text, phrase_pattern, problems
from scheduler.decisions import Verdict
from scheduler.presets import PresetError, get_preset, load_presets

US = get_preset("US-RegF")
UK = get_preset("UK-FCA")
CN = get_preset("CN")
EU = get_preset("EU")
ACCOUNT = "4111 1111 1111 1234"


def facts(locale: str = "en", **kw: Any) -> ContentFacts:
    base: dict[str, Any] = {
        "collector_role": "third_party",
        "collector_name": "Acme Collections",
        "collector_phone": "+1 800 555 0100",
        "account": ACCOUNT,
    }
    return ContentFacts(locale=locale, **{**base, **kw})


US_SMS = (
    "Acme Collections: Jane, your account ending ****1234 is 52 days past due ($420.50). "
    "This is from a debt collector. Call +1 800 555 0100. Reply STOP to opt out."
)


def rules(found: list[Any]) -> list[tuple[str, str | None]]:
    return [(p.rule, p.block or p.phrase) for p in found]


def test_a_compliant_us_sms_passes() -> None:
    assert problems({"body": US_SMS}, "sms", "reminder", US, facts()) == []
    assert check({"body": US_SMS}, "sms", "reminder", US, facts()) is None


def test_mini_miranda_is_required_only_from_a_third_party_collector() -> None:
    plain = US_SMS.replace(" This is from a debt collector.", "")
    assert rules(problems({"body": plain}, "sms", "reminder", US, facts())) == [
        ("content.required", "mini_miranda")
    ]
    first = facts(collector_role="first_party")
    assert problems({"body": plain}, "sms", "reminder", US, first) == []
    # A creditor collecting its own debt must not claim to be a debt collector.
    assert rules(problems({"body": US_SMS}, "sms", "reminder", US, first)) == [
        ("content.forbidden", "debt collector")
    ]


def test_time_barred_debt_forbids_litigation_words() -> None:
    threat = US_SMS.replace("Call", "Pay or face a lawsuit. Call")
    assert problems({"body": threat}, "sms", "reminder", US, facts()) == []
    decision = check({"body": threat}, "sms", "reminder", US, facts(sol_expired=True))
    assert decision is not None and decision.verdict is Verdict.SUPPRESS
    assert decision.rule == "content.forbidden" and decision.preset == "US-RegF"
    assert decision.preset_version == US.version
    assert "'lawsuit*'" in decision.reason and "time-barred" in decision.reason


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("We will take you to court.", True),
        ("COURT action follows.", True),
        ("Thank you for your courteous reply.", False),  # whole words only
        ("Our staff are courtly.", False),
        ("Several lawsuits are pending.", True),  # lawsuit* covers any ending
        ("A garnishment order.", True),
        ("legal\n  action", True),  # spacing is free
        ("paralegal actions", False),
    ],
)
def test_latin_phrases_match_whole_words(text: str, hit: bool) -> None:
    found = problems({"body": text}, "sms", "reply_to_inbound", US, facts(sol_expired=True))
    assert any(p.rule == "content.forbidden" for p in found) is hit


def test_cjk_phrases_match_anywhere() -> None:
    text = "【Acme Collections】您尾号1234的账户已逾期，我们将联系公安机关。请通过官方渠道还款，致电客服。"
    found = problems({"body": text}, "sms", "reminder", CN, facts("zh-CN"))
    assert rules(found) == [("content.forbidden", "公安")]
    assert phrase_pattern("公安") == "公安"


def test_phrase_lists_apply_to_their_locale_and_channels() -> None:
    # UK: "debt" is forbidden in SMS and email until the number is verified, not in letters.
    sms = "Acme Collections: about your debt. Free money guidance: moneyhelper.org.uk. Reply STOP."
    assert rules(problems({"body": sms}, "sms", "reminder", UK, facts())) == [
        ("content.forbidden", "debt")
    ]
    assert problems({"body": sms}, "sms", "reminder", UK, facts(owner_verified=True)) == []
    letter = "<p>Acme Collections: about your debt. Call us on +1 800 555 0100.</p>"
    assert problems({"html": letter}, "letter", "reminder", UK, facts()) == []
    # An English list does not judge a Chinese message, and the other way round.
    assert not any(
        p.rule == "content.forbidden"
        for p in problems({"body": "police"}, "sms", "reminder", CN, facts("zh-CN"))
    )


def test_masking_refuses_more_than_the_visible_digits() -> None:
    for leak in ("4111111111111234", "4111 1111 1111 1234", "ending 11234", "1111-1234"):
        found = problems({"body": US_SMS + " " + leak}, "sms", "reminder", US, facts())
        assert rules(found) == [("content.masking", None)], leak
    # The last four, the phone number, amounts and dates are not the account number.
    assert problems({"body": US_SMS + " Due 2026-10-01."}, "sms", "reminder", US, facts()) == []
    # At send time only the stored tail is known: nothing longer than it can leak from it.
    assert problems({"body": US_SMS}, "sms", "reminder", US, facts(account="1234")) == []


def test_exempt_purposes_skip_required_blocks_but_not_forbidden_phrases() -> None:
    confirmation = "You will receive no more texts from us."
    for purpose in ("opt_out_confirmation", "inbound_acknowledgement"):
        assert problems({"body": confirmation}, "sms", purpose, US, facts()) == []
        found = problems({"body": "Police are coming."}, "sms", purpose, US, facts())
        assert rules(found) == [("content.forbidden", "police")]
    assert {
        p.block for p in problems({"body": confirmation}, "sms", "help_reply", US, facts())
    } == {
        "collector_identity",
        "mini_miranda",
        "optout_reply_stop",
    }


def test_problems_lists_everything_and_check_puts_forbidden_first() -> None:
    text = "Pay now or we call the police. 4111111111111234"
    found = problems({"body": text}, "sms", "reminder", US, facts())
    assert [p.rule for p in found] == [
        "content.forbidden",
        "content.masking",
        "content.required",
        "content.required",
        "content.required",
    ]
    decision = check({"body": text}, "sms", "reminder", US, facts())
    assert decision is not None and decision.rule == "content.forbidden"


def test_an_email_needs_the_blocks_in_its_text_and_its_html() -> None:
    text = (
        "Acme Collections. This is from a debt collector. "
        "Reply STOP or unsubscribe: https://acme.example/u/1"
    )
    html = (
        "<p>Acme Collections. Reply STOP or <a href='https://acme.example/u/1'>unsubscribe</a>.</p>"
    )
    found = problems(
        {"subject": "Your account", "text": text, "html": html}, "email", "reminder", US, facts()
    )
    assert [(p.block, p.part) for p in found] == [("mini_miranda", "html")]


def test_html_text_keeps_link_addresses_and_drops_markup() -> None:
    source = '<style>p{}</style><p>A&amp;B <a class="x" href="https://u.example/1">stop</a></p>'
    assert html_text(source) == "A&B stop (https://u.example/1)"


@pytest.mark.parametrize(
    ("preset", "locale", "body"),
    [
        (
            UK,
            "en",
            "Acme Collections: Jane, please call us on +1 800 555 0100 about your account ending "
            "****1234. Free, impartial money guidance: moneyhelper.org.uk. Reply STOP to opt out.",
        ),
        (
            CN,
            "zh-CN",
            "【Acme Collections】王小明您好，您尾号1234的账户已逾期52天。"
            "请通过官方渠道还款，咨询请致电+1 800 555 0100。回复TD退订。",
        ),
        (
            EU,
            "en",
            "Acme Collections: your account ending ****1234 is past due. Privacy notice: "
            "https://acme.example/privacy - you may object. Reply STOP to opt out.",
        ),
    ],
)
def test_each_preset_accepts_its_compliant_sms(preset: Any, locale: str, body: str) -> None:
    assert problems({"body": body}, "sms", "reminder", preset, facts(locale)) == []
    bare = problems({"body": "Please call us."}, "sms", "reminder", preset, facts(locale))
    assert {p.block for p in bare} == set(preset.content.required["sms"].value)


def test_a_locale_no_detector_knows_is_reported_not_passed() -> None:
    found = problems({"body": "Acme Collections"}, "sms", "reminder", US, facts("fr"))
    assert any("nothing recognises it in locale fr" in p.message for p in found)


def _preset(tmp_path: Path, content: dict[str, Any]) -> Path:
    data = {"name": "OPS", "base": "US-RegF", "content": content}
    (tmp_path / "ops.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return tmp_path


def test_operator_preset_adds_a_detector_and_a_block(tmp_path: Path) -> None:
    content = {
        "required": {"sms": {"value": ["collector_identity", "state_disclosure"], "tag": "L"}},
        "detectors": {"state_disclosure": {"patterns": {"en": [r"\bNYC license\b"]}, "tag": "L"}},
    }
    ops = load_presets(_preset(tmp_path, content))["OPS"]
    assert ops.content.forbidden == US.content.forbidden  # merged over the base
    assert (
        problems({"body": "Acme Collections, NYC license 123"}, "sms", "reminder", ops, facts())
        == []
    )
    found = problems({"body": "Acme Collections"}, "sms", "reminder", ops, facts())
    assert rules(found) == [("content.required", "state_disclosure")]


@pytest.mark.parametrize(
    ("content", "path", "problem"),
    [
        (
            {"required": {"sms": {"value": ["nope"], "tag": "L"}}},
            "content.required",
            "sms: unknown block 'nope'",
        ),
        (
            {
                "required": {
                    "sms": {"value": ["collector_identity"], "when": {"x": "always"}, "tag": "L"}
                }
            },
            "content.required",
            "sms: unknown block 'x'",
        ),
        (
            {"required": {"fax": {"value": ["collector_identity"], "tag": "L"}}},
            "content.required.fax.[key]",
            "must be one of sms, email, letter",
        ),
        (
            {"forbidden": [{"when": "tuesday", "locale": "en", "phrases": ["x"], "tag": "P"}]},
            "content.forbidden[0].when",
            "must be one of",
        ),
        (
            {"detectors": {"b": {"patterns": {"en": ["(unclosed"]}, "tag": "P"}}},
            "content.detectors",
            "b.patterns.en[0]: bad pattern",
        ),
        (
            {"exempt_purposes": {"value": ["fun"], "tag": "P"}},
            "content.exempt_purposes",
            "unknown purpose 'fun'",
        ),
    ],
)
def test_bad_content_settings_name_the_file_and_field(
    tmp_path: Path, content: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(PresetError) as caught:
        load_presets(_preset(tmp_path, content))
    assert caught.value.file == "ops.yaml"
    assert caught.value.path == path
    assert problem in caught.value.problem


def test_the_mask_filter_follows_the_preset_masking() -> None:
    from gateway.render import render_part

    ctx = {"masking": {"visible": 2, "char": "#"}, "a": "1234"}
    assert render_part("{{ a | mask }} {{ a | mask(plain=True) }}", ctx) == "####34 34"
    assert render_part("{{ a | mask(3) }}", {"a": "1234"}) == "****234"  # no preset: the default


def test_a_preset_showing_fewer_digits_refuses_the_usual_tail(tmp_path: Path) -> None:
    masking = {"account_digits_visible": 2, "mask_char": "#", "tag": "P"}
    ops = load_presets(_preset(tmp_path, {"masking": masking}))["OPS"]
    assert rules(problems({"body": US_SMS}, "sms", "reminder", ops, facts())) == [
        ("content.masking", None)
    ]
    shorter = US_SMS.replace("****1234", "##34")
    assert problems({"body": shorter}, "sms", "reminder", ops, facts()) == []
