"""The statistical model beside the rules, and how the two are combined (compliance §6.6):
exact keywords before anything, the rules authoritative where they match, the model adding what
they missed, and a person asked to confirm what the model alone read unsure or at a high cost."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pytest

from gateway.replies import Category, classify, model
from gateway.replies.blend import (
    REVIEW_THRESHOLD,
    WRONG_PARTY_DOUBT,
    combine,
    features,
    trained_model,
)
from gateway.replies.classifier import classifier_version

C = Category
MONDAY = date(2026, 3, 9)


class Fixed(model.Model):
    """A model that reads every reply the same way."""

    def __init__(self, readings: dict[Category, float]) -> None:
        self.readings = readings

    def probabilities(self, features: str) -> dict[Category, float]:
        return dict(self.readings)

    def probabilities_many(self, texts: Iterable[str]) -> list[dict[Category, float]]:
        return [dict(self.readings) for _ in texts]


def test_a_category_the_rules_found_is_kept_whatever_the_model_says() -> None:
    confidence, doubts = combine({C.PROMISE_TO_PAY: 0.9}, {C.PROMISE_TO_PAY: 0.01})
    assert confidence == {C.PROMISE_TO_PAY: 0.9} and doubts == ()
    result = classify("I'll pay on Friday", today=MONDAY, model=Fixed({}))
    assert result.categories == (C.PROMISE_TO_PAY,) and result.confident


def test_a_category_only_the_model_reads_above_its_threshold_is_added() -> None:
    sure = max(model.threshold(C.ARRANGEMENT_REQUEST), REVIEW_THRESHOLD) + 0.01
    confidence, doubts = combine({C.HARDSHIP: 0.9}, {C.ARRANGEMENT_REQUEST: sure})
    assert confidence == {C.HARDSHIP: 0.9, C.ARRANGEMENT_REQUEST: sure} and doubts == ()
    below = model.threshold(C.ARRANGEMENT_REQUEST) - 0.01
    assert combine({}, {C.ARRANGEMENT_REQUEST: below}) == ({}, ())


def test_a_category_only_the_model_reads_unsure_is_applied_and_queued_for_a_person() -> None:
    unsure = model.threshold(C.DISPUTE)
    assert unsure < REVIEW_THRESHOLD
    confidence, doubts = combine({}, {C.DISPUTE: unsure})
    assert confidence == {C.DISPUTE: unsure} and doubts == ((C.DISPUTE, unsure),)
    result = classify("zzz qqq", today=MONDAY, model=Fixed({C.DISPUTE: unsure}))
    assert result.categories == (C.DISPUTE,) and not result.confident
    assert result.facts.rules == ("model.dispute",)
    assert result.facts.as_dict()["model"] == {"dispute": round(unsure, 3)}


def test_a_wrong_party_only_the_model_reads_is_always_confirmed_by_a_person() -> None:
    sure = 0.99
    confidence, doubts = combine({}, {C.WRONG_PARTY: sure})
    assert confidence == {C.WRONG_PARTY: sure} and doubts == ((C.WRONG_PARTY, sure),)


def test_exact_keywords_are_read_before_the_model() -> None:
    loud = Fixed({c: 0.99 for c in model.CATEGORIES})
    for text, category in (
        ("STOP", C.OPT_OUT_CHANNEL),
        ("HELP", C.HELP),
        ("退订", C.OPT_OUT_CHANNEL),
    ):
        result = classify(text, today=MONDAY, model=loud)
        assert result.categories == (category,) and result.confidence == 1.0
        assert result.doubts == () and result.facts.model == ()


def test_the_model_never_adds_help_or_start() -> None:
    assert combine({}, {C.HELP: 0.99, C.RESUBSCRIBE: 0.99}) == ({}, ())


def test_a_wrong_party_is_never_read_as_only_a_dispute_by_the_model() -> None:
    dispute = model.threshold(C.DISPUTE) + 0.05
    # The model alone reads a dispute and finds a wrong party likely too: nothing is applied,
    # a person decides.
    confidence, doubts = combine({}, {C.DISPUTE: dispute, C.WRONG_PARTY: WRONG_PARTY_DOUBT})
    assert C.DISPUTE not in confidence and C.WRONG_PARTY not in confidence
    assert dict(doubts) == {C.WRONG_PARTY: WRONG_PARTY_DOUBT, C.DISPUTE: dispute}
    # The rules read a dispute, the model finds a wrong party likely: the dispute stays (the
    # model never removes what the rules found), and the wrong party, the more restrictive, is
    # applied beside it meanwhile and put to a person (§6.6 "low confidence").
    confidence, doubts = combine({C.DISPUTE: 0.9}, {C.WRONG_PARTY: 0.95})
    assert confidence == {C.DISPUTE: 0.9, C.WRONG_PARTY: 0.95}
    assert doubts == ((C.WRONG_PARTY, 0.95),)
    confidence, doubts = combine({C.DISPUTE: 0.9}, {C.WRONG_PARTY: WRONG_PARTY_DOUBT / 2})
    assert confidence == {C.DISPUTE: 0.9} and doubts == ()
    # The rules read a wrong party: the model's dispute is not added beside it as the only
    # reading, and the wrong party is kept.
    confidence, _ = combine({C.WRONG_PARTY: 0.9}, {C.DISPUTE: 0.99, C.WRONG_PARTY: 0.0})
    assert C.WRONG_PARTY in confidence


def test_a_neighbour_of_what_the_rules_found_is_not_applied() -> None:
    # An opt-out found by the rules: the model's cease (more restrictive) is only doubted.
    confidence, doubts = combine({C.OPT_OUT_CHANNEL: 1.0}, {C.CEASE_ALL: 0.99})
    assert confidence == {C.OPT_OUT_CHANNEL: 1.0} and doubts == ((C.CEASE_ALL, 0.99),)
    # A cease found by the rules: the model's opt-out (less restrictive) is dropped.
    assert combine({C.CEASE_ALL: 0.9}, {C.OPT_OUT_CHANNEL: 0.99}) == ({C.CEASE_ALL: 0.9}, ())
    # A resubscription is not cancelled by an opt-out the model guesses; a person looks.
    assert combine({C.RESUBSCRIBE: 1.0}, {C.OPT_OUT_CHANNEL: 0.99}) == (
        {C.RESUBSCRIBE: 1.0},
        ((C.OPT_OUT_CHANNEL, 0.99),),
    )


def test_what_the_rules_read_negated_the_model_does_not_add() -> None:
    denied = frozenset({C.LEGAL_HOLD_BANKRUPTCY})
    assert combine({}, {C.LEGAL_HOLD_BANKRUPTCY: 0.99}, denied=denied) == ({}, ())
    result = classify(
        "I'm not bankrupt", today=MONDAY, model=Fixed({C.LEGAL_HOLD_BANKRUPTCY: 0.99})
    )
    assert C.LEGAL_HOLD_BANKRUPTCY not in result.categories


def test_the_trained_model_gives_a_probability_for_every_category() -> None:
    readings = trained_model().probabilities(features("you have the wrong person"))
    assert set(readings) == set(model.CATEGORIES)
    assert all(0.0 <= p <= 1.0 for p in readings.values())
    assert max(readings, key=readings.__getitem__) is C.WRONG_PARTY


def test_training_is_deterministic() -> None:
    corpus = model.corpus()
    texts = [features(r.text.casefold()) for r in corpus.replies[:300]]
    labels = [r.expect for r in corpus.replies[:300]]
    probe = ["wrong number", "退订", "i lost my job", "not mine"]
    first = model.train(texts, labels).probabilities_many(probe)
    second = model.train(texts, labels).probabilities_many(probe)
    assert first == second


def test_the_version_changes_with_the_model_and_its_corpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = model.version()
    assert classifier_version().endswith(before)
    assert len(classifier_version()) <= 32  # the replies.classifier_version column
    monkeypatch.setitem(model.PARAMETERS, "C", model.PARAMETERS["C"] * 2)
    assert model.version() != before
    monkeypatch.undo()
    monkeypatch.setitem(model.THRESHOLDS, C.DISPUTE, 0.99)
    assert model.version() != before
    monkeypatch.undo()
    real = model.corpus()
    monkeypatch.setattr(
        model, "corpus", lambda: model.Corpus(real.today, real.replies, real.digest[::-1])
    )
    assert model.version() != before


def test_the_corpus_ships_with_the_package() -> None:
    assert model.CORPUS_PATH.is_file()
    assert model.CORPUS_PATH.parent.parent.name == "replies"
    assert len(model.corpus().replies) > 1000
