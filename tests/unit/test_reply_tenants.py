"""REPLY_TENANTS: whose a reply from a sender on no case is, by the address it was sent to."""

from __future__ import annotations

import re

import pytest

from gateway.reply_tenants import parse
from gateway.settings import Settings
from gateway.settings_checks import SettingsError


def test_numbers_addresses_and_domains_name_their_tenant_and_star_the_rest() -> None:
    owners = parse("+15005550006=acme, Replies@Beta.example=beta, @replies.acme.example=acme, *=x")
    assert owners.owner("+15005550006") == "acme" and owners.named("+15005550006") == "acme"
    assert owners.owner("replies@beta.example") == "beta"
    assert owners.owner("reply+abc.def@REPLIES.acme.example") == "acme"
    assert owners.owner("+15005550007") == "x" and owners.named("+15005550007") is None
    assert owners.owner("") == "x" and owners.named(None) is None


def test_without_a_star_an_address_nobody_owns_is_nobodys() -> None:
    owners = parse("+15005550006=acme")
    assert owners.owner("+15005550007") is None
    assert parse("").owner("+15005550006") is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("+15005550006", "is not address=tenant"),
        ("=acme", "is not address=tenant"),
        ("+15005550006=", "is not address=tenant"),
        ("*=a,*=b", "* is listed twice"),
        ("+15005550006=a,+15005550006=b", "listed twice"),
        (f"*={'t' * 65}", "is not address=tenant"),
    ],
)
def test_a_wrong_entry_stops_start_up_naming_it(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match="REPLY_TENANTS"):
        parse(raw)
    with pytest.raises(SettingsError, match=re.escape(problem)):
        Settings.from_env({"REPLY_TENANTS": raw})
