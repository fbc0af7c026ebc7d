"""The reply classifier (compliance §6.6): keywords first, then phrase rules, EN and ZH, every
category, several intents at once, and what it refuses to read into a reply."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.replies import PRECEDENCE, Category, classify, model, rule_set
from gateway.replies.categories import ordered

C = Category
MONDAY = date(2026, 3, 9)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("STOP", C.OPT_OUT_CHANNEL),
        ("stop", C.OPT_OUT_CHANNEL),
        ("Stop.", C.OPT_OUT_CHANNEL),
        ("  STOP!!! ", C.OPT_OUT_CHANNEL),
        ("ＳＴＯＰ", C.OPT_OUT_CHANNEL),  # full-width, as some phones send it
        ("\u201cStop\u201d", C.OPT_OUT_CHANNEL),
        ("Unsubscribe", C.OPT_OUT_CHANNEL),
        ("END", C.OPT_OUT_CHANNEL),
        ("quit", C.OPT_OUT_CHANNEL),
        ("Cancel", C.OPT_OUT_CHANNEL),
        ("REVOKE", C.OPT_OUT_CHANNEL),
        ("OPT OUT", C.OPT_OUT_CHANNEL),
        ("opt-out", C.OPT_OUT_CHANNEL),
        ("Optout", C.OPT_OUT_CHANNEL),
        ("STOPALL", C.OPT_OUT_CHANNEL),
        ("退订", C.OPT_OUT_CHANNEL),
        ("退订。", C.OPT_OUT_CHANNEL),
        ("TD", C.OPT_OUT_CHANNEL),
        ("td", C.OPT_OUT_CHANNEL),
        ("T", C.OPT_OUT_CHANNEL),
        ("停止", C.OPT_OUT_CHANNEL),
        ("HELP", C.HELP),
        ("help?", C.HELP),
        ("Info", C.HELP),
        ("帮助", C.HELP),
        ("START", C.RESUBSCRIBE),
        ("unstop", C.RESUBSCRIBE),
    ],
)
def test_exact_keywords_ignore_case_width_and_punctuation(text: str, category: Category) -> None:
    result = classify(text, today=MONDAY)
    assert result.categories == (category,)
    assert result.confidence == 1.0 and result.facts.keyword is not None
    assert result.facts.rules == (f"keyword:{result.facts.keyword}",)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # English
        ("Wrong number, I don't know this person", C.WRONG_PARTY),
        ("You have the wrong number", C.WRONG_PARTY),
        ("I have filed for bankruptcy", C.LEGAL_HOLD_BANKRUPTCY),
        ("I'm in an IVA", C.LEGAL_HOLD_BANKRUPTCY),
        ("Please talk to my lawyer", C.LEGAL_HOLD_ATTORNEY),
        ("StepChange is handling it", C.LEGAL_HOLD_ATTORNEY),
        ("I am in breathing space", C.BREATHING_SPACE),
        ("He passed away last month", C.DECEASED),
        ("I'm in hospital at the moment", C.VULNERABILITY),
        ("I suffer from depression", C.VULNERABILITY),
        ("Stop contacting me", C.CEASE_ALL),
        ("leave me alone", C.CEASE_ALL),
        ("I won't pay", C.REFUSE_TO_PAY),
        ("This is not my debt", C.DISPUTE),
        ("the amount is wrong", C.DISPUTE),
        ("This is fraud", C.DISPUTE),
        ("Stop texting me please", C.OPT_OUT_CHANNEL),
        ("no more texts", C.OPT_OUT_CHANNEL),
        ("I lost my job and can't afford it", C.HARDSHIP),
        ("I already paid", C.ALREADY_PAID),
        ("I'll pay on Friday", C.PROMISE_TO_PAY),
        ("Can I pay in instalments?", C.ARRANGEMENT_REQUEST),
        ("I work nights, not before noon", C.TIME_PREFERENCE),
        ("Email me instead", C.CHANNEL_PREFERENCE),
        ("How much do I owe?", C.INFO_REQUEST),
        ("who is this?", C.INFO_REQUEST),
        ("This is harassment, I will complain", C.COMPLAINT),
        ("ok", C.UNKNOWN),
        ("👍", C.UNKNOWN),
        # Chinese
        ("打错了", C.WRONG_PARTY),
        ("我不认识这个人", C.WRONG_PARTY),
        ("我已经破产了", C.LEGAL_HOLD_BANKRUPTCY),
        ("请联系我的律师", C.LEGAL_HOLD_ATTORNEY),
        ("他已经去世了", C.DECEASED),
        ("我在住院", C.VULNERABILITY),
        ("别再联系我", C.CEASE_ALL),
        ("我就是不还", C.REFUSE_TO_PAY),
        ("这不是我的", C.DISPUTE),
        ("金额不对", C.DISPUTE),
        ("别再发短信了", C.OPT_OUT_CHANNEL),
        ("退订谢谢", C.OPT_OUT_CHANNEL),
        ("我失业了", C.HARDSHIP),
        ("最近没钱", C.HARDSHIP),
        ("已还", C.ALREADY_PAID),
        ("昨天还了", C.ALREADY_PAID),
        ("明天还", C.PROMISE_TO_PAY),
        ("可以分期吗", C.ARRANGEMENT_REQUEST),
        ("上班时间不方便", C.TIME_PREFERENCE),
        ("请用邮件联系", C.CHANNEL_PREFERENCE),
        ("我欠多少", C.INFO_REQUEST),
        ("我要投诉你们", C.COMPLAINT),
        ("你好", C.UNKNOWN),
    ],
)
def test_phrase_rules_find_each_category(text: str, category: Category) -> None:
    result = classify(text, today=MONDAY)
    assert result.primary is category, result
    if category is C.UNKNOWN:
        assert result.categories == (C.UNKNOWN,) and result.confidence == 0.0
    else:
        assert result.confidence >= 0.8 and result.facts.rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I refuse to pay this, do not contact me", (C.CEASE_ALL, C.REFUSE_TO_PAY)),
        (
            "I already paid this in full last Friday. Please stop sending these reminders.",
            (C.OPT_OUT_CHANNEL, C.ALREADY_PAID),
        ),
        ("Not my debt, and stop texting me", (C.DISPUTE, C.OPT_OUT_CHANNEL)),
        ("I lost my job but I'll pay next week", (C.HARDSHIP, C.PROMISE_TO_PAY)),
        ("wrong number, stop texting", (C.WRONG_PARTY, C.OPT_OUT_CHANNEL)),
        ("我没钱，下个月还", (C.HARDSHIP, C.PROMISE_TO_PAY)),
        ("我已经还了，别再发了", (C.OPT_OUT_CHANNEL, C.ALREADY_PAID)),
        ("She passed away, stop contacting us", (C.DECEASED, C.CEASE_ALL)),
    ],
)
def test_several_intents_are_all_found_most_restrictive_first(
    text: str, expected: tuple[Category, ...]
) -> None:
    assert classify(text, today=MONDAY).categories == expected


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("I haven't paid yet", C.ALREADY_PAID),
        ("I can't pay by Friday", C.PROMISE_TO_PAY),
        ("I refuse to pay this", C.PROMISE_TO_PAY),
        ("I won't pay", C.PROMISE_TO_PAY),
        ("我不是不还", C.REFUSE_TO_PAY),
        ("我明天还不了", C.PROMISE_TO_PAY),
        ("你们怎么还在发", C.INFO_REQUEST),
        ("今天还了", C.PROMISE_TO_PAY),
        ("Can you help me set up a plan?", C.HELP),  # HELP is a keyword, not a word
        ("stop contacting me", C.RESUBSCRIBE),
    ],
)
def test_negations_and_lookalikes_are_not_read_as_intents(text: str, absent: Category) -> None:
    assert absent not in classify(text, today=MONDAY).categories


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        # "I'm not …", "this is not …", "who is …" name someone else only when a name follows.
        ("I'm not sure what this is", C.WRONG_PARTY),
        ("I'm not lying", C.WRONG_PARTY),
        ("I'm not made of money", C.WRONG_PARTY),
        ("this is not acceptable", C.WRONG_PARTY),
        ("Not today", C.WRONG_PARTY),
        ("who is the creditor", C.WRONG_PARTY),
        ("I changed my number", C.WRONG_PARTY),
        ("我不是学生", C.WRONG_PARTY),
        ("新号码发给你们了", C.WRONG_PARTY),
        ("my phone died", C.DECEASED),
        ("I sent you an email", C.ALREADY_PAID),
        ("I will send you an email", C.PROMISE_TO_PAY),
        ("Please don't text me before 9am", C.OPT_OUT_CHANNEL),  # when, not whether
        ("I'm not disputing it", C.DISPUTE),
        ("I'm not bankrupt", C.LEGAL_HOLD_BANKRUPTCY),
        ("stoop", C.OPT_OUT_CHANNEL),  # a word, not a slip of STOP
    ],
)
def test_lookalikes_of_a_name_a_death_or_a_payment_are_not_read_as_one(
    text: str, absent: Category
) -> None:
    assert absent not in classify(text, today=MONDAY).categories


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("STOPP", C.OPT_OUT_CHANNEL),
        ("sotp", C.OPT_OUT_CHANNEL),
        ("unsubscrib", C.OPT_OUT_CHANNEL),
        ("unsub", C.OPT_OUT_CHANNEL),
        ("who r u", C.INFO_REQUEST),
        ("wrong numbr", C.WRONG_PARTY),
        ("I'm in an individual voluntary arangement", C.LEGAL_HOLD_BANKRUPTCY),
        ("dont txt me again", C.OPT_OUT_CHANNEL),
        ("this isnt alex", C.WRONG_PARTY),
        ("I'm not Ming", C.WRONG_PARTY),
        ("我不是欧阳娜娜", C.WRONG_PARTY),
    ],
)
def test_text_speak_and_a_slip_of_one_key_are_read_as_the_word(
    text: str, category: Category
) -> None:
    assert category in classify(text, today=MONDAY).categories


def test_a_misspelt_keyword_is_the_keyword() -> None:
    result = classify("Stopp!", today=MONDAY)
    assert result.categories == (C.OPT_OUT_CHANNEL,) and result.facts.keyword == "stop"


def test_a_keyword_inside_a_sentence_is_not_a_keyword_match() -> None:
    result = classify("I don't want to stop paying, I will pay on Friday", today=MONDAY)
    assert result.facts.keyword is None
    assert result.categories == (C.PROMISE_TO_PAY,)


def test_opt_out_cancels_a_resubscription_in_the_same_reply() -> None:
    assert ordered({C.RESUBSCRIBE, C.OPT_OUT_CHANNEL}) == (C.OPT_OUT_CHANNEL,)
    assert ordered(set()) == (C.UNKNOWN,)


def test_precedence_names_every_category_once() -> None:
    assert sorted(PRECEDENCE) == sorted(Category) and len(set(PRECEDENCE)) == len(Category)
    assert PRECEDENCE.index(C.CEASE_ALL) < PRECEDENCE.index(C.OPT_OUT_CHANNEL)
    assert PRECEDENCE.index(C.OPT_OUT_CHANNEL) < PRECEDENCE.index(C.PROMISE_TO_PAY)


@pytest.mark.parametrize(
    ("text", "promised"),
    [
        ("I'll pay on Friday", date(2026, 3, 13)),
        ("pay $50 on the 15th", date(2026, 3, 15)),
        ("I will pay next week", date(2026, 3, 20)),
        ("I'll pay tomorrow", date(2026, 3, 10)),
        ("明天还", date(2026, 3, 10)),
        ("我下周五还", date(2026, 3, 20)),
        ("15号还款", date(2026, 3, 15)),
        ("I will pay at the end of the month", date(2026, 3, 31)),
        ("I can pay in 2 weeks", date(2026, 3, 23)),
    ],
)
def test_a_promise_carries_its_date(text: str, promised: date) -> None:
    result = classify(text, today=MONDAY)
    assert result.primary is C.PROMISE_TO_PAY and result.facts.promise_date == promised


def test_a_promise_without_a_date_has_none() -> None:
    result = classify("I will pay", today=MONDAY)
    assert result.primary is C.PROMISE_TO_PAY and result.facts.promise_date is None


def test_the_date_is_read_in_the_debtors_locale() -> None:
    assert classify("I'll pay 4/5", today=MONDAY, locale="en").facts.promise_date == date(
        2026, 4, 5
    )
    assert classify("I'll pay 4/5", today=MONDAY, locale="en-GB").facts.promise_date == date(
        2026, 5, 4
    )


def test_weak_signals_have_low_confidence() -> None:
    result = classify("what is the balance", today=MONDAY)
    assert result.primary is C.INFO_REQUEST and result.confident
    weak = classify("balance", today=MONDAY)
    assert weak.primary is C.INFO_REQUEST and not weak.confident


def test_the_version_names_the_rules_and_the_model() -> None:
    version = classify("STOP", today=MONDAY).version
    assert version == f"{rule_set().version}+{model.version()}" and version.startswith("rules-1.")
    assert classify("anything", today=MONDAY).version == version


def test_the_result_is_serializable_facts() -> None:
    facts = classify("I'll pay on Friday", today=MONDAY).facts.as_dict()
    assert facts["promise_date"] == "2026-03-13" and facts["keyword"] is None
    assert all(r.startswith("en.promise_to_pay.") for r in facts["rules"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An opt-out keyword that is a sentence of its own is the opt-out, with the rest.
        ("Wrong number. STOP", {C.WRONG_PARTY, C.OPT_OUT_CHANNEL}),
        ("not me. STOP or I'll report you", {C.WRONG_PARTY, C.OPT_OUT_CHANNEL, C.COMPLAINT}),
        ("TD 谢谢", {C.OPT_OUT_CHANNEL}),
        ("Stop. I'll pay Friday", {C.OPT_OUT_CHANNEL, C.PROMISE_TO_PAY}),
    ],
)
def test_a_stop_said_as_a_sentence_of_its_own_is_read(text: str, expected: set[Category]) -> None:
    assert set(classify(text, today=MONDAY).categories) == expected


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("stop please", C.OPT_OUT_CHANNEL),
        ("pls stop", C.OPT_OUT_CHANNEL),
        ("STOP thanks!!", C.OPT_OUT_CHANNEL),
        ("help please", C.HELP),
        ("退订谢谢", C.OPT_OUT_CHANNEL),
    ],
)
def test_courtesy_words_around_a_keyword_leave_it_a_keyword(text: str, category: Category) -> None:
    result = classify(text, today=MONDAY)
    assert result.categories == (category,) and result.facts.keyword is not None


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("Help, I can't pay", C.HELP),  # only the opt-out is read out of a longer reply
        ("I'll stop by the branch tomorrow", C.OPT_OUT_CHANNEL),
        ("Stop the interest and I'll pay monthly", C.OPT_OUT_CHANNEL),
        ("please don't stop the reminders", C.OPT_OUT_CHANNEL),
        ("She passed away, stop contacting us", C.OPT_OUT_CHANNEL),
        ("Don't call or text me before 8am", C.CEASE_ALL),  # when, not whether
        ("I'm the account holder", C.WRONG_PARTY),
        ("He moved the payment to Friday", C.WRONG_PARTY),
        ("The app doesn't have this option", C.WRONG_PARTY),
        ("my battery died", C.DECEASED),
        ("I won't be able to pay this week", C.PROMISE_TO_PAY),
        ("我已经换号了，新号是138", C.WRONG_PARTY),  # the debtor's own new number
        ("不是我不想还", C.WRONG_PARTY),
    ],
)
def test_the_broader_rules_do_not_read_lookalikes(text: str, absent: Category) -> None:
    assert absent not in classify(text, today=MONDAY).categories


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Stooop", C.OPT_OUT_CHANNEL),  # a letter held down
        ("STOPPP", C.OPT_OUT_CHANNEL),
        ("wrng number", C.WRONG_PARTY),  # a letter left out of a five-letter word
        ("Wrong # stop texting", C.WRONG_PARTY),  # "#" for "number"
    ],
)
def test_held_down_and_dropped_letters_and_the_number_sign(text: str, category: Category) -> None:
    assert category in classify(text, today=MONDAY).categories
