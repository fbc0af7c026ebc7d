"""Block detectors: each required block is recognised in English and Chinese text, and only there."""

from __future__ import annotations

import pytest

from scheduler.blocks import BLOCKS, alternatives, present

COLLECTOR = "Acme Collections"
PHONE = "+1 800 555 0100"

# (block, locale, text that carries it, text that does not)
CASES = [
    ("collector_identity", "en", "acme  collections: please call", "Acme: please call"),
    ("collector_identity", "zh-CN", "【Acme Collections】您好", "【某公司】您好"),
    (
        "mini_miranda",
        "en",
        "This communication is from a debt collector.",
        "We collect debts from collectors of stamps.",
    ),
    ("mini_miranda", "en", "This is an attempt to collect a debt.", "Please pay your debt."),
    ("mini_miranda", "zh-CN", "本信息来自债务催收机构。", "本信息来自您的银行。"),
    ("optout_reply_stop", "en", 'Reply "STOP" to opt out.', "Stop by our office any time."),
    ("optout_reply_stop", "zh-CN", "回复TD退订。", "TD银行提醒您还款。"),
    (
        "optout_link_and_reply",
        "en",
        "Reply STOP or unsubscribe (https://x.example/u/1).",
        "Reply STOP to stop these emails.",  # no link
    ),
    (
        "optout_link_and_reply",
        "zh-CN",
        "请回复“退订”或点击退订链接：https://x.example/u/1",
        "点击退订链接：https://x.example/u/1",  # no reply keyword
    ),
    ("masked_account_tail", "en", "your account ending ****1234", "your account 41111234"),
    ("masked_account_tail", "en", "card ending in 1234", "your account"),
    ("masked_account_tail", "zh-CN", "您尾号1234的账户", "您的账户"),
    ("sms_signature", "zh-CN", "【Acme】您好，请还款。", "Acme：您好，请还款。"),
    ("sms_signature", "en", "Please pay. 【Acme】", "Please pay. [Acme]"),
    (
        "debt_advice_signpost",
        "en",
        "Free, impartial money guidance: moneyhelper.org.uk",
        "Call us for advice about paying.",
    ),
    ("debt_advice_signpost", "en", "Get free debt advice from StepChange.", "Pay us now."),
    ("debt_advice_signpost", "zh-CN", "免费理财咨询：moneyhelper.org.uk", "请尽快还款。"),
    ("help_contact", "en", "Call 1-800-555-0100 for help.", "Visit our branch."),
    ("help_contact", "en", "Reply HELP for help.", "Help is not available."),
    ("help_contact", "zh-CN", "咨询请致电客服。", "请尽快还款。"),
    ("official_repayment_channel", "en", "Pay only through our official channels.", "Pay now."),
    ("official_repayment_channel", "zh-CN", "请通过官方渠道还款。", "请向任意账户转账。"),
    ("dispute_channel", "en", "If you dispute this amount, call us.", "Call us to pay."),
    ("dispute_channel", "zh-CN", "如对金额有异议，请致电。", "请致电还款。"),
    (
        "privacy_notice_link",
        "en",
        "Privacy notice: https://acme.example/p",
        "Our privacy matters. Pay at https://acme.example/pay",  # link too far from the word
    ),
    ("privacy_notice_link", "zh-CN", "隐私声明：https://acme.example/p", "隐私很重要。"),
    ("objection_right_notice", "en", "You have the right to object.", "You cannot object-ify."),
    ("objection_right_notice", "zh-CN", "您有权反对相关数据处理。", "您应当同意数据处理。"),
]


@pytest.mark.parametrize(("block", "locale", "positive", "negative"), CASES)
def test_detector_recognises_its_block_and_nothing_else(
    block: str, locale: str, positive: str, negative: str
) -> None:
    alts = alternatives(block, locale)
    assert alts, f"no detector for {block} in {locale}"
    assert present(positive, alts, COLLECTOR, PHONE)
    assert not present(negative, alts, COLLECTOR, PHONE)


def test_every_builtin_block_is_tested_in_both_locales() -> None:
    covered = {(block, locale) for block, locale, _, _ in CASES}
    assert {(b, loc) for b in BLOCKS for loc in ("en", "zh-CN")} <= covered


def test_a_placeholder_without_a_value_never_matches() -> None:
    # No collector name configured: an empty name must not match every text.
    assert not present("anything at all", alternatives("collector_identity", "en"), "", PHONE)


def test_a_locale_without_detectors_has_no_alternatives() -> None:
    assert alternatives("mini_miranda", "fr") == []
    assert alternatives("sms_signature", "fr")  # `any` applies to every locale


def test_extra_detectors_add_alternatives() -> None:
    extra = {"mini_miranda": {"fr": [(r"\bagence de recouvrement\b",)]}}
    alts = alternatives("mini_miranda", "fr", extra)
    assert present("Ceci vient d'une agence de recouvrement.", alts, COLLECTOR, PHONE)
