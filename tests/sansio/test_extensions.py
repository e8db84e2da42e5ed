"""Tests for trioproto._sansio._extensions: the header grammar of RFC 6455 §9.1."""

from __future__ import annotations

import pytest

from trioproto import InvalidHandshake
from trioproto._sansio._extensions import parse_extensions, serialize_extension


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["permessage-deflate"], [("permessage-deflate", [])]),
        (
            ["permessage-deflate; client_max_window_bits"],
            [("permessage-deflate", [("client_max_window_bits", None)])],
        ),
        (
            ["permessage-deflate ; server_max_window_bits = 10 ;client_no_context_takeover"],
            [
                (
                    "permessage-deflate",
                    [("server_max_window_bits", "10"), ("client_no_context_takeover", None)],
                )
            ],
        ),
        (
            ['permessage-deflate; server_max_window_bits="10"'],
            [("permessage-deflate", [("server_max_window_bits", "10")])],
        ),
        (['x; a="b\\c"'], [("x", [("a", "bc")])]),
        (["a, b", "c"], [("a", []), ("b", []), ("c", [])]),
        (["a, , b,"], [("a", []), ("b", [])]),
        (['x; q="a,b"'.replace(",", "")], [("x", [("q", "ab")])]),
    ],
)
def test_parse(values: list[str], expected: list[object]) -> None:
    assert parse_extensions(values) == expected


@pytest.mark.parametrize(
    "value",
    [
        "bad name",
        "x; =1",
        "x; a=b c",
        'x; a="not a token"',
        'x; a="unterminated',
        "x; a=",
        "x;",
    ],
)
def test_parse_rejects(value: str) -> None:
    """A malformed Sec-WebSocket-Extensions header is a 400 (RFC 6455 §9.1)."""
    with pytest.raises(InvalidHandshake) as info:
        parse_extensions([value])
    assert info.value.http_status == 400


def test_quoted_separator_does_not_split() -> None:
    with pytest.raises(InvalidHandshake, match="not a token"):
        parse_extensions(['x; a="b,c"'])


def test_serialize() -> None:
    assert serialize_extension("permessage-deflate", []) == "permessage-deflate"
    assert (
        serialize_extension("permessage-deflate", [("a", None), ("b", "12")])
        == "permessage-deflate; a; b=12"
    )
