"""The reply classifier scored on a labelled corpus of replies as people write them (English and
Chinese, typos, slang, names, mixed language, emoji).

Two parts. `train` (gateway/replies/corpus/train.yaml, shipped with the package: the statistical
model is trained on it) is what the rules are written from, and must be read in full by the rules
and the model combined. It also holds the parts that used to be held out (`heldout`,
`heldout-2` … `heldout-6`, then `heldout-7`): each was read once it had been scored, so none
gives a blind figure any more, and they became training replies. `heldout-8` is the blind part:
written blind, by someone who saw only compliance.md (neither the rules nor the corpus), it is
only ever scored, and a reply it misses may only be fixed by a general rule learnt from `train`,
never by a rule written for that reply. Until it is there, its tests are skipped. The recall
tables are printed at the end of the run."""

from __future__ import annotations

import pytest

from gateway.replies import Category
from tests.reply_corpus import CORPUS, STOP_FAMILY, load, score

C = Category
TRAIN = "train"
HELD_OUT = "heldout-8"
HELD_OUT_OVERALL = 0.92
CORPUS_SIZE = 400

needs_held_out = pytest.mark.skipif(
    not (CORPUS / f"{HELD_OUT}.yaml").exists(),
    reason=f"the blind part tests/fixtures/replies/{HELD_OUT}.yaml is not written yet",
)


def test_the_training_part_covers_every_category_and_language() -> None:
    _, replies = load(TRAIN)
    assert {c for r in replies for c in r.expect} == set(Category)
    assert {r.lang for r in replies} == {"en", "zh", "mixed"}
    assert len({r.text.casefold() for r in replies}) == len(replies), "a reply is listed twice"


@needs_held_out
def test_the_corpus_covers_every_category_in_both_parts_and_both_languages() -> None:
    _, train = load(TRAIN)
    _, held_out = load(HELD_OUT)
    for name, replies in ((TRAIN, train), (HELD_OUT, held_out)):
        assert {c for r in replies for c in r.expect} == set(Category), name
        # (The blind part labels a mixed reply by its main language.)
        assert {r.lang for r in replies} >= {"en", "zh"}, name
    assert len(train) + len(held_out) >= CORPUS_SIZE
    # Nothing held out is also a training reply: the held-out score is not learnt by heart.
    # Only the count is reported, so that no held-out text is printed.
    shared = {r.text.casefold() for r in train} & {r.text.casefold() for r in held_out}
    count = len(shared)  # a number, so a failure prints no text either
    assert count == 0, f"{count} held-out replies are also in {TRAIN}.yaml"


def test_training_replies_are_all_read(report: list[str]) -> None:
    result = score(TRAIN)
    report.extend(result.table())
    if result.misses or result.wrong_dates:
        pytest.fail("\n".join(result.table()))


# A floor, so a change that reads people worse fails here while the targets below are not all met
# yet. Set on heldout-4, the blind part before heldout-5 (327 replies written blind), after the
# training part grew by heldout-3 and about 430 replies of its own: 94.8 % overall, STOP family
# 98.6 % (72/73), wrong party 97.9 % (47/48), no stranger read as only disputing (3 December
# 2026). With the classifier before that growth it had scored 91.8 %, 93.2 % and 83.3 %.
# (heldout-3, the blind part before it, last scored 90.7 %, 92.1 % and 96.7 %.) heldout-4 was then
# read and joined train (3 December 2026). heldout-5 (481 replies, written blind by someone who
# saw only compliance.md §6.6; the training replies that came out word for word as its replies
# were taken out of train by text, unread) scored 92.3 % overall, STOP family 95.1 % (136/143),
# wrong party 96.7 % (89/92) after train grew by train6 and heldout-4, then 93.3 %, 96.5 %
# (138/143) and 95.7 % (88/92) after train7 (3 December 2026): two more requests to stop read,
# one stranger fewer, no stranger read as only disputing either time. heldout-5 was then read and
# joined train (4 December 2026), with the STOP family counted as honoured when a channel's
# opt-out is read as a cease of all contact (wider, never narrower: counted apart). heldout-6
# (517 replies, written blind by someone who saw only compliance.md; the 80 training replies that
# came out word for word as its replies were taken out of train by text, unread) then scored
# 96.3 % overall, STOP family 97.4 % (150/154, 5 of them read wider), wrong party 97.3 %
# (110/113), no stranger read as only disputing (4 December 2026). heldout-6 was then read and
# joined train (7 December 2026). heldout-7 (709 replies, a quarter Chinese, written blind by
# someone who saw only compliance.md; the 114 training replies that came out word for word as its
# replies were taken out of train by text, unread) scored 92.3 % overall, STOP family 96.2 %
# (177/184, 1 read wider), wrong party 98.5 % (128/130), no stranger read as only disputing,
# promised dates 62/68 (7 December 2026). heldout-7 was then read and joined train (7 December
# 2026). heldout-8 (544 replies, 31 % Chinese or mixed, written blind the same way; the 106
# training replies that came out word for word as its replies were taken out of train by text,
# unread) scored 94.7 % overall, STOP family 100 % (121/121, none read wider), wrong party 99.0 %
# (97/98), no stranger read as only disputing, promised dates 47/53 (7 December 2026). The floor
# is that score.
HELD_OUT_FLOOR = {"overall": 0.94, "STOP family": 1.0, C.WRONG_PARTY.value: 0.98}


@needs_held_out
def test_held_out_replies_are_scored_and_read_no_worse(report: list[str]) -> None:
    result = score(HELD_OUT)
    report.extend(result.table(texts=False))
    summary = "\n".join(result.table(texts=False))
    # A stranger's "not mine" read as the debtor's dispute keeps their number for debt messages.
    strangers_as_disputes = len(result.wrong_party_as_dispute)  # a count: no text is printed
    assert strangers_as_disputes == 0, summary
    assert result.overall >= HELD_OUT_FLOOR["overall"], summary
    for key in ("STOP family", C.WRONG_PARTY.value):
        assert result.recall(key) >= HELD_OUT_FLOOR[key], summary


@needs_held_out
@pytest.mark.xfail(
    strict=True,
    reason="the hardening issue's targets on the blind part: on heldout-8 overall >= 92 % "
    "(94.7 %) and the STOP family at 100 % (121/121) are met, wrong party (98.97 %, 97/98) at "
    "100 % is not; strict, so meeting it fails this mark and it goes",
)
def test_held_out_replies_are_read_as_people_write_them() -> None:
    result = score(HELD_OUT)
    summary = "\n".join(result.table(texts=False))
    assert result.overall >= HELD_OUT_OVERALL, summary
    for category in (*STOP_FAMILY, C.WRONG_PARTY):
        assert result.recall(category.value) == 1.0, summary
    assert result.recall("STOP family") == 1.0, summary
