"""The Twilio request body: whatever the text, the form decodes to the parameters sent."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from channels.sms.twilio import form

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@given(st.dictionaries(st.sampled_from(["To", "From", "Body", "StatusCallback"]), TEXT))
def test_a_form_decodes_to_its_parameters(params: dict[str, str]) -> None:
    body = form(params).decode("ascii")
    assert dict(parse_qsl(body, keep_blank_values=True)) == params


def test_the_characters_that_separate_parameters_are_escaped() -> None:
    body = form({"Body": "a&b=c+d %e 你好"}).decode()
    assert body == "Body=a%26b%3Dc%2Bd+%25e+%E4%BD%A0%E5%A5%BD"
