"""Tokens and where the server may listen: FACTDESK_API_TOKENS read, checked and never shown."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from factdesk.api.access import (
    EVERY_DESK,
    AccessDenied,
    Grant,
    Tokens,
    check_exposure,
    is_loopback,
    parse_tokens,
)
from factdesk.errors import ConfigError

DESKS = ["default", "energy", "politics"]
ONE = "k3Qm9Zr1Yw8Pt2Lx"
TWO = "p9Xw4Nc7Bv6Mj5Hq"


def tokens(value: str) -> Tokens:
    return parse_tokens(SecretStr(value), DESKS)


def test_tokens_for_every_desk_or_for_some():
    read = tokens(f" {ONE} , {TWO}=energy+politics ,")
    assert read.grant(f"Bearer {ONE}") == EVERY_DESK
    limited = read.grant(f"bearer {TWO}")
    assert limited == Grant(frozenset({"energy", "politics"}))
    assert limited.allows("energy") and not limited.allows("default")
    assert read.secrets == [ONE, TWO]


def test_without_tokens_every_request_may_ask_everything():
    open_door = parse_tokens(None, DESKS)
    assert not open_door.required and open_door.grant(None) == EVERY_DESK


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", f"Basic {ONE}", f"Bearer {ONE}x", f"Bearer {TWO}"]
)
def test_a_missing_or_wrong_token_is_denied_without_repeating_it(header):
    with pytest.raises(AccessDenied) as denied:
        tokens(ONE).grant(header)
    assert TWO not in str(denied.value) and ONE not in str(denied.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("tiny-secret", "token 1 is shorter than 16"),
        (f"{ONE}, a secret with spaces", "token 2 is shorter than 16 characters or holds a space"),
        (f"{ONE}=sports", "unknown desk 'sports' (desks: default, energy, politics)"),
        (f"{ONE}=", "token 1 names no desk after `=`"),
    ],
)
def test_a_bad_token_setting_names_the_entry_never_its_value(value, text):
    with pytest.raises(ConfigError, match="FACTDESK_API_TOKENS") as error:
        tokens(value)
    assert text in str(error.value)
    for secret in (ONE, "tiny-secret", "a secret with spaces"):
        assert secret not in str(error.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("news.example.org", False),
    ],
)
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_only_loopback_may_go_without_tokens():
    check_exposure("127.0.0.1", Tokens())
    check_exposure("0.0.0.0", tokens(ONE))
    with pytest.raises(ConfigError, match=r"Refusing to listen on 0\.0\.0\.0 without"):
        check_exposure("0.0.0.0", Tokens())
