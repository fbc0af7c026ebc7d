"""The signed addresses of returning mail: VERP bounce addresses and case reply addresses."""

from __future__ import annotations

import pytest

from channels.email import tokens

SECRET = "unit-test-secret"
MESSAGE_ID = "019a6f3c2b1d4e5f60718293a4b5"  # 28 hex, as gateway.ids makes them


def test_bounce_address_round_trips_and_fits_a_local_part() -> None:
    address = tokens.bounce_address(SECRET, MESSAGE_ID, "bounces.example.com")
    local, _, domain = address.partition("@")
    assert local.startswith("bounce+" + MESSAGE_ID + ".") and domain == "bounces.example.com"
    assert len(local) <= 64
    assert tokens.message_of_bounce_address(SECRET, address) == MESSAGE_ID
    assert tokens.message_of_bounce_address(SECRET, address, "bounces.example.com") == MESSAGE_ID


@pytest.mark.parametrize(
    "mangle",
    [
        lambda a: a.upper(),  # some relays change the case of the local part
        lambda a: f"<{a}>",
        lambda a: f" {a} ",
    ],
)
def test_bounce_address_survives_harmless_rewriting(mangle: object) -> None:
    address = tokens.bounce_address(SECRET, MESSAGE_ID, "bounces.example.com")
    assert tokens.message_of_bounce_address(SECRET, mangle(address)) == MESSAGE_ID  # type: ignore[operator]


@pytest.mark.parametrize(
    "address",
    [
        f"bounce+{MESSAGE_ID}.0000000000000000@bounces.example.com",  # forged signature
        f"bounce+{MESSAGE_ID}@bounces.example.com",  # no signature
        "bounce+@bounces.example.com",
        "reminders@bounces.example.com",
        "",
    ],
)
def test_bounce_addresses_we_did_not_make_are_refused(address: str) -> None:
    assert tokens.message_of_bounce_address(SECRET, address) is None


def test_a_bounce_address_for_one_message_does_not_name_another() -> None:
    address = tokens.bounce_address(SECRET, MESSAGE_ID, "b.example")
    sig = address.split("@")[0].rsplit(".", 1)[1]
    other = "f" * 28
    assert tokens.message_of_bounce_address(SECRET, f"bounce+{other}.{sig}@b.example") is None


def test_another_secret_or_domain_refuses_the_address() -> None:
    address = tokens.bounce_address(SECRET, MESSAGE_ID, "bounces.example.com")
    assert tokens.message_of_bounce_address("another-secret", address) is None
    assert tokens.message_of_bounce_address(SECRET, address, "elsewhere.example.com") is None


def test_reply_address_names_the_case_without_its_reference() -> None:
    address = tokens.reply_address(SECRET, 4711, "replies.example.com")
    assert address.startswith("reply+4711.") and address.endswith("@replies.example.com")
    assert tokens.case_of_reply_address(SECRET, address) == 4711
    assert tokens.case_of_reply_address(SECRET, address.upper()) == 4711
    assert tokens.case_of_reply_address(SECRET, address, "replies.example.com") == 4711


@pytest.mark.parametrize(
    "address",
    [
        "reply+4712.0000000000000000@replies.example.com",
        "reply+abc.0000000000000000@replies.example.com",
        "reply+٤٧١١.0000000000000000@replies.example.com",  # non-ASCII digits
        "jane@replies.example.com",
    ],
)
def test_reply_addresses_we_did_not_make_are_refused(address: str) -> None:
    assert tokens.case_of_reply_address(SECRET, address) is None


def test_a_reply_token_is_not_a_bounce_token() -> None:
    reply = tokens.reply_address(SECRET, 7, "x.example")
    bounce_like = reply.replace("reply+", "bounce+")
    assert tokens.message_of_bounce_address(SECRET, bounce_like) is None
