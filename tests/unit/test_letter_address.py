"""The recipient block of a letter: the place composed from the address fields in the order the
destination's post expects, lines-only addresses as given, the country name when mailed abroad."""

from __future__ import annotations

from typing import Any

import pytest

from channels.letter.address import block

STREET = {"lines": ["12 Main St", "Apt 4"]}


@pytest.mark.parametrize(
    ("postal", "expected"),
    [
        (
            {**STREET, "city": "Springfield", "region": "IL", "postal_code": "62701"}
            | {"country": "US"},
            ["12 Main St", "Apt 4", "Springfield, IL 62701"],
        ),
        (
            {**STREET, "city": "Montréal", "region": "QC", "postal_code": "H2X 1Y4"}
            | {"country": "CA"},
            ["12 Main St", "Apt 4", "Montréal QC H2X 1Y4"],
        ),
        (
            {**STREET, "city": "London", "postal_code": "SW1A 2AA", "country": "GB"},
            ["12 Main St", "Apt 4", "London", "SW1A 2AA"],
        ),
        (
            {"lines": ["Via Roma 1"], "city": "Roma", "region": "RM", "postal_code": "00184"}
            | {"country": "IT"},
            ["Via Roma 1", "00184 Roma", "RM"],
        ),
        # Lines only: printed as given, the postal code added when no line has it.
        (
            {"lines": ["12 Main St", "Springfield, IL 62701"], "postal_code": "62701"}
            | {"country": "US"},
            ["12 Main St", "Springfield, IL 62701"],
        ),
        (
            {"lines": ["10 Downing Lane", "London"], "postal_code": "SW1A 2AA", "country": "GB"},
            ["10 Downing Lane", "London", "SW1A 2AA"],
        ),
        ({"lines": [" 1 Rue X ", ""], "country": "FR"}, ["1 Rue X"]),
    ],
)
def test_the_block_follows_the_destinations_order(
    postal: dict[str, Any], expected: list[str]
) -> None:
    assert block(postal) == expected
    assert block(postal, postal["country"]) == expected  # mailed at home: no country line


def test_a_letter_mailed_abroad_ends_with_the_country_name() -> None:
    postal = {"lines": ["Unter den Linden 1"], "city": "Berlin", "postal_code": "10117"}
    assert block({**postal, "country": "DE"}, "US") == [
        "Unter den Linden 1",
        "10117 Berlin",
        "GERMANY",
    ]
    assert block({"lines": ["1 Main St"], "country": "GB"}, "IE")[-1] == "UNITED KINGDOM"
