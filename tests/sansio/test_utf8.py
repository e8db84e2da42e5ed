"""Tests for trioproto._sansio._utf8: fail-fast UTF-8 validation of text (RFC 6455 §8.1).

"When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not,
in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_" (§8.1), and
the validity rules are RFC 3629 §4's syntax. The decoder is checked against a byte-wise
transcription of that syntax: fed one byte at a time, it must fail at exactly the first byte
that no valid UTF-8 text can continue with, and not one byte later.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioproto._exceptions import RemoteProtocolError
from trioproto._sansio._utf8 import Utf8Decoder, decode_text

_TAIL = (0x80, 0xBF)


def first_impossible_byte(data: bytes) -> int | None:
    """RFC 3629 §4 as a byte-wise automaton.

    Returns:
        The index of the first byte no valid UTF-8 can continue with; ``len(data)`` when the
        data stops inside a code point; ``None`` when it is valid UTF-8.
    """
    expected: list[tuple[int, int]] = []
    for index, byte in enumerate(data):
        if expected:
            low, high = expected.pop(0)
            if not low <= byte <= high:
                return index
        elif byte <= 0x7F:
            pass
        elif 0xC2 <= byte <= 0xDF:
            expected = [_TAIL]
        elif byte == 0xE0:
            expected = [(0xA0, 0xBF), _TAIL]
        elif 0xE1 <= byte <= 0xEC or 0xEE <= byte <= 0xEF:
            expected = [_TAIL, _TAIL]
        elif byte == 0xED:
            expected = [(0x80, 0x9F), _TAIL]  # no UTF-16 surrogates
        elif byte == 0xF0:
            expected = [(0x90, 0xBF), _TAIL, _TAIL]
        elif 0xF1 <= byte <= 0xF3:
            expected = [_TAIL, _TAIL, _TAIL]
        elif byte == 0xF4:
            expected = [(0x80, 0x8F), _TAIL, _TAIL]  # nothing above U+10FFFF
        else:
            return index
    return len(data) if expected else None


def failure_point(pieces: list[bytes]) -> int | None:
    """Feed ``pieces`` to a fresh decoder; return the byte offset of the piece it failed on.

    The final piece is ``b""`` with ``final=True``; a failure there returns the total length.
    """
    decoder = Utf8Decoder()
    offset = 0
    text = []
    for piece in pieces:
        try:
            text.append(decoder.decode(piece))
        except RemoteProtocolError as exc:
            assert exc.close_code == 1007
            return offset
        offset += len(piece)
    try:
        text.append(decoder.decode(b"", final=True))
    except RemoteProtocolError as exc:
        assert exc.close_code == 1007
        return offset
    assert "".join(text) == b"".join(pieces).decode("utf-8")
    return None


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


KOSME = "κόσμε".encode()  # Autobahn's favourite, CE BA E1 BD B9 CF 83 CE BC CE B5

# (description, bytes, index of the first impossible byte or len(bytes) when truncated)
INVALID = [
    # The classic early-failure cases.
    ("overlong C0", b"\xc0\x80", 0),
    ("overlong C1", b"\xc1\xbf", 0),
    ("overlong E0 80", b"\xe0\x80\x80", 1),
    ("overlong E0 9F", b"\xe0\x9f\xbf", 1),
    ("surrogate ED A0", b"\xed\xa0\x80", 1),
    ("surrogate ED BF", b"\xed\xbf\xbf", 1),
    ("overlong F0 80", b"\xf0\x80\x80\x80", 1),
    ("overlong F0 8F", b"\xf0\x8f\xbf\xbf", 1),
    ("out of range F4 90", b"\xf4\x90\x80\x80", 1),
    ("out of range F4 BF", b"\xf4\xbf\xbf\xbf", 1),
    ("F5", b"\xf5\x80\x80\x80", 0),
    ("F7", b"\xf7\xbf\xbf\xbf", 0),
    ("F8", b"\xf8", 0),
    ("FE", b"\xfe", 0),
    ("FF", b"\xff", 0),
    ("lone continuation", b"\x80", 0),
    ("missing continuation of 2", b"\xc3\x41", 1),
    ("missing continuation of 3", b"\xe2\x82\x41", 2),
    ("missing continuation of 4", b"\xf0\x9f\x98\x41", 3),
    ("after valid text", b"abc\xc3\xa9\xc0", 5),
    # Autobahn 6.3.1 / 6.4.x: valid text, then an impossible sequence, then valid text.
    ("autobahn 6.3.1", KOSME + b"\xed\xa0\x80" + b"edited", 11),
    ("autobahn 6.4.1", KOSME + b"\xf4\x90\x80\x80" + b"edited", 11),
    ("autobahn 6.4.2", KOSME + b"\xf4\x90\x80\x80", 11),
    # Autobahn 6.8: 5- and 6-byte sequences (not UTF-8 since RFC 3629).
    ("autobahn 6.8.1", b"\xf8\x88\x80\x80\x80", 0),
    ("autobahn 6.8.2", b"\xfc\x84\x80\x80\x80\x80", 0),
    # Autobahn 6.10: first impossible sequences of each length.
    ("autobahn 6.10.1", b"\xf7\xbf\xbf\xbf", 0),
    ("autobahn 6.10.2", b"\xfb\xbf\xbf\xbf\xbf", 0),
    ("autobahn 6.10.3", b"\xfd\xbf\xbf\xbf\xbf\xbf", 0),
    ("autobahn 6.11.5", b"\xf4\x90\x80\x80", 1),
    # Autobahn 6.12: unexpected continuation bytes.
    ("autobahn 6.12.1", b"\x80", 0),
    ("autobahn 6.12.2", b"\xbf", 0),
    ("autobahn 6.12.3", b"\x80\xbf", 0),
    ("autobahn 6.12.8", bytes(range(0x80, 0xC0)), 0),
    # Autobahn 6.13: lonely start bytes followed by a space.
    ("autobahn 6.13.1", b"\xc0 \xc1 ", 0),
    ("autobahn 6.13.2 (C2 space)", b"\xc2 \xc3 ", 1),
    ("autobahn 6.13.3", b"\xe0 \xe1 ", 1),
    ("autobahn 6.13.4", b"\xf0 \xf1 ", 1),
    ("autobahn 6.13.5", b"\xf8 ", 0),
    # Autobahn 6.14: sequences with the last byte missing.
    ("autobahn 6.14.1", b"\xc0", 0),
    ("autobahn 6.14.2", b"\xe0\x80", 1),
    ("autobahn 6.14.3", b"\xf0\x80\x80", 1),
    ("autobahn 6.14.6", b"\xdf", 1),
    ("autobahn 6.14.7", b"\xef\xbf", 2),
    ("autobahn 6.14.8", b"\xf4\x8f\xbf", 3),
    ("autobahn 6.14.9", b"\xf7\xbf\xbf", 0),
    # Autobahn 6.15: the concatenation of the 6.14 sequences.
    ("autobahn 6.15.1", b"\xc0\xe0\x80\xf0\x80\x80\xdf\xef\xbf\xf7\xbf\xbf", 0),
    # Autobahn 6.16: impossible bytes.
    ("autobahn 6.16.1", b"\xfe", 0),
    ("autobahn 6.16.2", b"\xff", 0),
    ("autobahn 6.16.3", b"\xfe\xfe\xff\xff", 0),
    # Autobahn 6.17: overlong ASCII "/".
    ("autobahn 6.17.1", b"\xc0\xaf", 0),
    ("autobahn 6.17.2", b"\xe0\x80\xaf", 1),
    ("autobahn 6.17.3", b"\xf0\x80\x80\xaf", 1),
    ("autobahn 6.17.4", b"\xf8\x80\x80\x80\xaf", 0),
    # Autobahn 6.18: maximum overlong sequences.
    ("autobahn 6.18.1", b"\xc1\xbf", 0),
    ("autobahn 6.18.2", b"\xe0\x9f\xbf", 1),
    ("autobahn 6.18.3", b"\xf0\x8f\xbf\xbf", 1),
    # Autobahn 6.19: overlong NUL.
    ("autobahn 6.19.1", b"\xc0\x80", 0),
    ("autobahn 6.19.2", b"\xe0\x80\x80", 1),
    ("autobahn 6.19.3", b"\xf0\x80\x80\x80", 1),
    # Autobahn 6.20: single UTF-16 surrogates.
    ("autobahn 6.20.1", b"\xed\xa0\x80", 1),
    ("autobahn 6.20.2", b"\xed\xad\xbf", 1),
    ("autobahn 6.20.3", b"\xed\xae\x80", 1),
    ("autobahn 6.20.4", b"\xed\xaf\xbf", 1),
    ("autobahn 6.20.5", b"\xed\xb0\x80", 1),
    ("autobahn 6.20.6", b"\xed\xbe\x80", 1),
    ("autobahn 6.20.7", b"\xed\xbf\xbf", 1),
    # Autobahn 6.21: paired UTF-16 surrogates.
    ("autobahn 6.21.1", b"\xed\xa0\x80\xed\xb0\x80", 1),
    ("autobahn 6.21.8", b"\xed\xaf\xbf\xed\xbf\xbf", 1),
    # Truncated at the end of the message: only the final piece fails.
    ("truncated 2-byte", b"a\xc3", 2),
    ("truncated 3-byte after 1", b"\xe2", 1),
    ("truncated 3-byte after 2", b"\xe2\x82", 2),
    ("truncated 4-byte after 3", b"\xf0\x9f\x98", 3),
    ("truncated ED", b"\xed", 1),
    ("truncated ED 9F", b"\xed\x9f", 2),
    ("truncated F4 8F", b"\xf4\x8f", 2),
]

VALID = [
    ("empty", b""),
    ("ascii", b"Hello, world"),
    ("NUL", b"\x00"),
    ("autobahn 6.2 (Hello-µ@ßöäüàá-UTF-8!!)", "Hello-µ@ßöäüàá-UTF-8!!".encode()),
    ("autobahn 6.5.1 / 6.6 (κόσμε)", KOSME),
    # Autobahn 6.7: first possible sequence of each length.
    ("autobahn 6.7.1", b"\x00"),
    ("autobahn 6.7.2", b"\xc2\x80"),
    ("autobahn 6.7.3", b"\xe0\xa0\x80"),
    ("autobahn 6.7.4", b"\xf0\x90\x80\x80"),
    # Autobahn 6.9: last possible sequence of each length.
    ("autobahn 6.9.1", b"\x7f"),
    ("autobahn 6.9.2", b"\xdf\xbf"),
    ("autobahn 6.9.3", b"\xef\xbf\xbf"),
    ("autobahn 6.9.4", b"\xf4\x8f\xbf\xbf"),
    # Autobahn 6.11: other boundary conditions.
    ("autobahn 6.11.1 (U+D7FF)", b"\xed\x9f\xbf"),
    ("autobahn 6.11.2 (U+E000)", b"\xee\x80\x80"),
    ("autobahn 6.11.3 (U+FFFD)", b"\xef\xbf\xbd"),
    ("autobahn 6.11.4 (U+10FFFF)", b"\xf4\x8f\xbf\xbf"),
    # Autobahn 6.22: noncharacters are valid UTF-8.
    ("autobahn 6.22.1 (U+FFFE)", b"\xef\xbf\xbe"),
    ("autobahn 6.22.2 (U+FFFF)", b"\xef\xbf\xbf"),
    ("autobahn 6.22.3 (U+1FFFE)", b"\xf0\x9f\xbf\xbe"),
    ("autobahn 6.22 (U+10FFFE)", b"\xf4\x8f\xbf\xbe"),
    ("mixed widths", "aé€😀κόσμε\U0010ffff\x7f".encode()),
]


@pytest.mark.parametrize(("description", "data", "index"), INVALID)
def test_reference_automaton_agrees_with_table(description: str, data: bytes, index: int) -> None:
    """The table's expected indexes follow RFC 3629 §4 (checks the test's own oracle)."""
    assert first_impossible_byte(data) == index


@pytest.mark.parametrize(("description", "data", "index"), INVALID)
def test_fails_at_first_impossible_byte(description: str, data: bytes, index: int) -> None:
    """RFC 6455 §8.1: fed byte by byte, the decoder fails at the first impossible byte."""
    assert failure_point(bytewise(data)) == index


@pytest.mark.parametrize(("description", "data", "index"), INVALID)
def test_fails_in_the_piece_that_holds_the_impossible_byte(
    description: str, data: bytes, index: int
) -> None:
    """RFC 6455 §8.1: for every 2-piece split, the failure comes with the bad byte's piece."""
    for cut in range(len(data) + 1):
        expected = (0 if index < cut else cut) if index < len(data) else len(data)
        assert failure_point([data[:cut], data[cut:]]) == expected, cut


@pytest.mark.parametrize(("description", "data", "index"), INVALID)
def test_decode_text_rejects(description: str, data: bytes, index: int) -> None:
    """RFC 6455 §8.1: a complete text payload that is not UTF-8 fails with 1007."""
    with pytest.raises(RemoteProtocolError) as info:
        decode_text(data)
    assert info.value.close_code == 1007


@pytest.mark.parametrize(("description", "data"), VALID)
def test_decode_text_accepts(description: str, data: bytes) -> None:
    """RFC 3629: valid UTF-8, including boundary code points and noncharacters."""
    assert first_impossible_byte(data) is None
    assert decode_text(data) == data.decode("utf-8")


@pytest.mark.parametrize(("description", "data"), VALID)
def test_valid_text_split_anywhere(description: str, data: bytes) -> None:
    """RFC 6455 §5.4: a fragment boundary may fall inside a code point; all splits decode."""
    expected = data.decode("utf-8")
    for cut in range(len(data) + 1):
        decoder = Utf8Decoder()
        first = decoder.decode(data[:cut])
        second = decoder.decode(data[cut:], final=True)
        assert first + second == expected, cut
    decoder = Utf8Decoder()
    pieces = [decoder.decode(piece) for piece in bytewise(data)]
    assert "".join(pieces) + decoder.decode(b"", final=True) == expected


def test_incomplete_code_point_is_held_back() -> None:
    """Bytes of an unfinished code point are carried to the piece that completes it."""
    decoder = Utf8Decoder()
    assert decoder.decode(b"a\xe2") == "a"
    assert decoder.decode(b"\x82") == ""
    assert decoder.decode(b"\xacb", final=True) == "€b"


def test_surrogate_split_across_calls() -> None:
    """RFC 3629 §3: ED A0..BF begins a surrogate; it fails when the second byte arrives."""
    decoder = Utf8Decoder()
    assert decoder.decode(b"ok\xed") == "ok"
    with pytest.raises(RemoteProtocolError) as info:
        decoder.decode(b"\xa0")
    assert info.value.close_code == 1007


def test_final_with_pending_bytes_fails() -> None:
    """RFC 6455 §8.1: a message that ends inside a code point is not valid UTF-8."""
    decoder = Utf8Decoder()
    assert decoder.decode(b"\xf0\x9f") == ""
    with pytest.raises(RemoteProtocolError):
        decoder.decode(b"\x98", final=True)


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=12))
def test_matches_rfc_3629_automaton(data: bytes) -> None:
    """Property: byte by byte, the decoder fails exactly where RFC 3629 §4 says it must."""
    assert failure_point(bytewise(data)) == first_impossible_byte(data)


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=20), st.data())
def test_valid_text_any_chunking(text: str, data: st.DataObject) -> None:
    """Property: any chunking of valid UTF-8 decodes to the original text."""
    encoded = text.encode("utf-8")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=6)))
    pieces = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)], strict=True)]
    decoder = Utf8Decoder()
    result = "".join(decoder.decode(piece) for piece in pieces)
    assert result + decoder.decode(b"", final=True) == text
