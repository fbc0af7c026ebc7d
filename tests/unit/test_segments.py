from hypothesis import given
from hypothesis import strategies as st

from channels.sms.segments import GSM7_BASIC, GSM7_EXTENSION, count


def test_plain_gsm7_fits_160_in_one_part() -> None:
    assert count("a" * 160) == count("a" * 160).__class__("GSM-7", 160, 1)
    assert count("a" * 161).parts == 2
    assert count("a" * 306).parts == 2
    assert count("a" * 307).parts == 3


def test_extension_characters_count_double() -> None:
    seg = count("€" * 80)
    assert (seg.encoding, seg.units, seg.parts) == ("GSM-7", 160, 1)
    assert count("€" * 81).parts == 2


def test_chinese_is_ucs2_70_then_67() -> None:
    assert count("还" * 70).parts == 1
    assert count("还" * 71).parts == 2
    assert count("还" * 134).parts == 2
    assert count("还" * 135).parts == 3
    assert count("您好").encoding == "UCS-2"


def test_one_non_gsm_character_switches_the_whole_text_to_ucs2() -> None:
    seg = count("Hello " * 20 + "😀")
    assert seg.encoding == "UCS-2"
    assert seg.units == 120 + 2  # the emoji is a surrogate pair


def test_empty_text_has_no_parts() -> None:
    assert count("").parts == 0


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=800))
def test_gsm7_parts_always_hold_the_text(text: str) -> None:
    seg = count(text)
    assert seg.encoding == "GSM-7"
    capacity = 160 if seg.parts <= 1 else 153 * seg.parts
    assert seg.units <= capacity
    if seg.parts > 1:
        assert seg.units > (160 if seg.parts == 2 else 153 * (seg.parts - 1))
