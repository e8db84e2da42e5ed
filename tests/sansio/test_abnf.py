"""Tests for trioproto._sansio._abnf: the one token rule (RFC 9110 §5.6.2) and plain paths
(RFC 3986 §3.3)."""

from __future__ import annotations

import re
import string
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioproto._sansio._abnf import TOKEN, TOKEN_BYTES, is_plain_path, is_token

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


@pytest.mark.parametrize(
    ("target", "plain"),
    [
        ("/", True),
        ("/chat/room-1/a.b_c~d", True),
        ("/a//b:c@d;e=f,g!h$i&j'k(l)m*n+o", True),
        ("//host/path", False),  # an authority
        ("/a%20b", False),
        ("/a?b=c", False),
        ("/a#frag", False),
        ("/caf\u00e9", False),
        ("http://host/a", False),
        ("", False),
        ("a", False),
    ],
)
def test_is_plain_path(target: str, plain: bool) -> None:
    assert is_plain_path(target) is plain


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="/%?#:@[]aZ9-._~!$&'()*+,;= \u00e9", max_size=12).map(lambda t: "/" + t))
def test_a_plain_path_is_what_splitting_and_decoding_would_give(target: str) -> None:
    """The shortcut taken for plain paths changes nothing: urlsplit would find the same path,
    no authority, query or fragment, and percent-decoding would leave it as it is."""
    if not is_plain_path(target):
        return
    parts = urllib.parse.urlsplit(target)
    assert (parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment) == (
        "",
        "",
        target,
        "",
        "",
    )
    assert urllib.parse.unquote(target) == target
