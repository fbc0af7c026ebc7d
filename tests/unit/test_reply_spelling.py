"""Respelling a reply before it is read: text speak, contractions without an apostrophe, and a
slip of one key in a word that matters."""

from __future__ import annotations

from gateway.replies.spelling import respell, table, variants


def test_a_short_word_tolerates_only_a_doubled_or_swapped_letter() -> None:
    found = variants("stop")
    assert {"stopp", "sstop", "sotp", "tsop", "stpo"} <= found
    assert not {"step", "shop", "sto", "stops", "stop"} & found


def test_a_long_word_tolerates_any_single_edit() -> None:
    found = variants("unsubscribe")
    assert {"unsubscrib", "unsubscribbe", "unsibscribe", "unsubscirbe"} <= found
    assert "unsub" not in found  # two edits and more: only an explicit spelling


def test_explicit_spellings_win_and_real_words_stay() -> None:
    words = table({"u": "you", "numbr": "number"}, ["stop", "number"], ["stoop"])
    assert words["u"] == "you" and words["numbr"] == "number" and words["stopp"] == "stop"
    assert "stoop" not in words and "stop" not in words


def test_respelling_keeps_punctuation_other_scripts_and_unknown_words() -> None:
    words = table({"u": "you", "dont": "don't"}, ["stop"], [])
    assert respell("u, dont stopp! 退订 ok", words) == "you, don't stop! 退订 ok"
    assert respell("ok", {}) == "ok"


def test_a_five_letter_word_tolerates_a_dropped_letter_but_not_its_first() -> None:
    found = variants("wrong")
    assert {"wrng", "wong", "wrog", "worng"} <= found
    assert "rong" not in found and "wrung" not in found


def test_a_held_down_letter_is_read_once_or_twice_as_the_vocabulary_spells_it() -> None:
    assert respell("stooop", {}, {"stop"}) == "stop"
    assert respell("callll me", {}, {"call"}) == "call me"
    assert respell("nooo more", {}, {"stop"}) == "no more"
