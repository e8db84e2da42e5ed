"""Tests for trioproto._sansio._abnf: the one token rule (RFC 9110 §5.6.2)."""

from __future__ import annotations

import re
import string

import pytest

from trioproto._sansio._abnf import TOKEN, TOKEN_BYTES, is_token

TCHARS = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters


def test_every_tchar_is_a_token_and_nothing_else_is() -> None:
    for code in range(256):
        character = chr(code)
        assert is_token(character) is (character in TCHARS), repr(character)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("chat", True), ("v2.chat-json", True), ("", False), ("a b", False), ("a,b", False)],
)
def test_is_token(text: str, expected: bool) -> None:
    assert is_token(text) is expected


def test_bytes_rule_matches_the_same_tokens() -> None:
    pattern = re.compile(TOKEN_BYTES)
    for code in range(256):
        assert (pattern.fullmatch(bytes([code])) is not None) is (
            re.fullmatch(TOKEN, chr(code)) is not None
        )
