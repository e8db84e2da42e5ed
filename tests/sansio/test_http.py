"""Tests for trioproto._sansio._http: the bounded HTTP/1.1 head parser (RFC 9112)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioproto import InvalidHandshake, Limits
from trioproto._sansio._http import (
    _VALID_HEADER_BLOCK,
    Headers,
    Request,
    RequestHeadParser,
    Response,
    ResponseHeadParser,
    _header_line_fault,
    request_body_length,
    serialize_request,
    serialize_response,
)

HEAD = (
    b"GET /chat?room=1 HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: keep-alive, Upgrade\r\n"
    b"X-Spaces:   padded value \t\r\n"
    b"\r\n"
)
EXPECTED = Request(
    "GET",
    "/chat?room=1",
    "HTTP/1.1",
    Headers(
        [
            ("Host", "example.com"),
            ("Upgrade", "websocket"),
            ("Connection", "keep-alive, Upgrade"),
            ("X-Spaces", "padded value"),
        ]
    ),
)


def _feed_all(data: bytes, pieces: list[bytes]) -> tuple[object, bytes]:
    parser = RequestHeadParser(Limits())
    result = None
    for piece in pieces:
        result = parser.feed(piece)
        if result is not None:
            break
    return result, parser.trailing_data


def test_headers_mapping() -> None:
    headers = Headers([("A", "1"), ("b", "x, y"), ("B", " , z")])
    assert headers.get("a") == "1"
    assert headers.get("missing") is None
    assert headers.get("missing", "d") == "d"
    assert headers.get_all("B") == ["x, y", " , z"]
    assert headers.get_all("A") == ["1"]
    assert Headers([("X", "1"), ("Y", "2"), ("x", "3")]).get_all("x") == ["1", "3"]
    assert headers.get_list("b") == ["x", "y", "z"]
    assert "A" in headers and "a" in headers and 1 not in headers
    assert list(headers) == [("A", "1"), ("b", "x, y"), ("B", " , z")]
    assert headers.items() == (("A", "1"), ("b", "x, y"), ("B", " , z"))
    assert len(headers) == 3
    assert headers == Headers(headers.items())
    assert headers != "not headers"
    assert hash(headers) == hash(Headers(headers.items()))
    assert repr(Headers([("A", "1")])) == "Headers([('A', '1')])"


def test_request_in_one_piece_keeps_trailing_data() -> None:
    """Bytes after the blank line (frames in the same segment) are kept (RFC 6455 §4.1)."""
    result, trailing = _feed_all(HEAD + b"\x81\x85frame", [HEAD + b"\x81\x85frame"])
    assert result == EXPECTED
    assert trailing == b"\x81\x85frame"


def test_every_split_point_and_byte_by_byte() -> None:
    data = HEAD + b"tail"
    for cut in range(1, len(data)):
        result, trailing = _feed_all(data, [data[:cut], data[cut:]])
        assert result == EXPECTED
        if cut < len(HEAD):
            assert trailing == b"tail"  # else the head completed before "tail" was fed
    result, _ = _feed_all(data, [bytes([b]) for b in data])
    assert result == EXPECTED


def test_feeding_after_completion_is_an_error() -> None:
    parser = RequestHeadParser(Limits())
    assert parser.feed(HEAD) == EXPECTED
    with pytest.raises(RuntimeError):
        parser.feed(b"more")


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"\r\n", 400),
        (b"GET / HTTP/1.0\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", 400),
    ],
)
def test_malformed_requests(head: bytes, status: int) -> None:
    with pytest.raises(InvalidHandshake) as info:
        RequestHeadParser(Limits()).feed(head)
    assert info.value.http_status == status


def test_tab_in_value_is_allowed() -> None:
    request = RequestHeadParser(Limits()).feed(b"GET / HTTP/1.1\r\nX: a\tb\r\n\r\n")
    assert request is not None
    assert request.headers.get("X") == "a\tb"


def test_bare_lf_never_completes_a_head() -> None:
    """Only CRLF ends lines (RFC 9112 §2.2 lets a parser choose): bare LF never yields a
    request, and the line limit ends the wait."""
    parser = RequestHeadParser(Limits(max_request_line_size=64))
    assert parser.feed(b"GET / HTTP/1.1\nHost: a\n\n") is None
    with pytest.raises(InvalidHandshake) as info:
        parser.feed(b"x" * 64)
    assert info.value.http_status == 414


@pytest.mark.parametrize("extra", [0, 1, 2])
def test_request_line_limit(extra: int) -> None:
    limits = Limits(max_request_line_size=100)
    line = b"GET /" + b"a" * (100 - len(b"GET / HTTP/1.1") + extra) + b" HTTP/1.1"
    parser = RequestHeadParser(limits)
    if extra == 0:
        assert parser.feed(line + b"\r\n\r\n") is not None
        return
    with pytest.raises(InvalidHandshake) as info:
        parser.feed(line)  # the limit fires before the CRLF arrives
    assert info.value.http_status == 414


@pytest.mark.parametrize("extra", [0, 1, 2])
def test_header_line_limit(extra: int) -> None:
    limits = Limits(max_request_line_size=50)
    header = b"X: " + b"v" * (47 + extra)
    data = b"GET / HTTP/1.1\r\n" + header + b"\r\n\r\n"
    if extra == 0:
        assert RequestHeadParser(limits).feed(data) is not None
        return
    with pytest.raises(InvalidHandshake) as info:
        RequestHeadParser(limits).feed(data[: 16 + len(header)])  # no CRLF yet
    assert info.value.http_status == 431


@pytest.mark.parametrize("extra", [0, 1, 2])
def test_header_count_limit(extra: int) -> None:
    limits = Limits(max_header_lines=10)
    data = b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * (10 + extra) + b"\r\n"
    if extra == 0:
        request = RequestHeadParser(limits).feed(data)
        assert request is not None
        assert len(request.headers) == 10
        return
    with pytest.raises(InvalidHandshake) as info:
        RequestHeadParser(limits).feed(data)
    assert info.value.http_status == 431


@pytest.mark.parametrize("extra", [0, 1, 2])
def test_head_size_limit(extra: int) -> None:
    """The head limit counts every byte up to and including the final CRLF."""
    data = b"GET / HTTP/1.1\r\n" + (b"X: " + b"v" * 20 + b"\r\n") * 10 + b"\r\n"
    limits = Limits(max_request_head_size=len(data) - extra)
    if extra == 0:
        assert RequestHeadParser(limits).feed(data) is not None
        return
    with pytest.raises(InvalidHandshake) as info:
        RequestHeadParser(limits).feed(data)
    assert info.value.http_status == 431


def test_head_limit_while_a_line_is_still_arriving() -> None:
    limits = Limits(max_request_head_size=40, max_request_line_size=1000)
    parser = RequestHeadParser(limits)
    assert parser.feed(b"GET / HTTP/1.1\r\nX: ") is None
    with pytest.raises(InvalidHandshake) as info:
        parser.feed(b"v" * 30)
    assert info.value.http_status == 431


def test_response_parser() -> None:
    parser = ResponseHeadParser(Limits())
    data = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00"
    assert parser.feed(data[:10]) is None
    response = parser.feed(data[10:])
    assert response == Response(
        101, "Switching Protocols", "HTTP/1.1", Headers([("Upgrade", "websocket")])
    )
    assert parser.trailing_data == b"\x81\x00"
    assert ResponseHeadParser(Limits()).feed(b"HTTP/1.1 204\r\n\r\n") == Response(
        204, "", "HTTP/1.1", Headers()
    )


@pytest.mark.parametrize(
    "head", [b"HTTP/1.1 1010 X\r\n\r\n", b"NOPE\r\n\r\n", b"HTTP/1.0 101 OK\r\n\r\n"]
)
def test_malformed_responses(head: bytes) -> None:
    with pytest.raises(InvalidHandshake):
        ResponseHeadParser(Limits()).feed(head)


def test_serialize_request_and_response() -> None:
    assert serialize_request("GET", "/a?b", [("Host", "x")]) == (
        b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert serialize_response(101, [("Upgrade", "websocket")]) == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    )
    assert serialize_response(404, [], b"nope") == (
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"
    )
    assert serialize_response(200, [("content-length", "2")], b"ok", reason="Fine") == (
        b"HTTP/1.1 200 Fine\r\ncontent-length: 2\r\n\r\nok"
    )
    assert serialize_response(599, []).startswith(b"HTTP/1.1 599 Unknown\r\n")


@pytest.mark.parametrize(
    ("name", "value"),
    [("X", "a\r\nInjected: 1"), ("X\n", "a"), ("X", "a\x00"), ("X:Y", "a")],
)
def test_header_injection_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        serialize_response(200, [(name, value)])
    with pytest.raises(ValueError, match="unsafe"):
        serialize_request("GET", "/", [(name, value)])


@pytest.mark.parametrize("target", ["/a b", "/a\r\nX: y"])
def test_unsafe_request_target(target: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        serialize_request("GET", target, [])


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), cut=st.integers(min_value=1, max_value=50))
def test_arbitrary_bytes_only_raise_invalid_handshake(data: bytes, cut: int) -> None:
    """Bad input of any kind is an InvalidHandshake, never another exception."""
    for parser in (
        RequestHeadParser(Limits(max_request_head_size=200, max_header_lines=5)),
        ResponseHeadParser(Limits(max_request_head_size=200, max_header_lines=5)),
    ):
        try:
            for index in range(0, len(data), cut):
                if parser.feed(data[index : index + cut]) is not None:
                    break
        except InvalidHandshake:
            pass


TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=10)
VALUE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,;=/-0123456789", max_size=20).map(str.strip)


@settings(max_examples=100, deadline=None)
@given(headers=st.lists(st.tuples(TOKEN, VALUE), max_size=8))
def test_serialize_parse_round_trip(headers: list[tuple[str, str]]) -> None:
    request = RequestHeadParser(Limits()).feed(serialize_request("GET", "/x", headers))
    assert request == Request("GET", "/x", "HTTP/1.1", Headers(headers))


@pytest.mark.parametrize(
    ("fields", "limit", "length"),
    [
        ([], 10, 0),
        ([("Content-Length", "0")], 10, 0),
        ([("Content-Length", "10")], 10, 10),
        ([("Content-Length", " 7 ")], None, 7),
        ([("Content-Length", "5, 5")], 10, 5),  # a repeated identical value (RFC 9112 §6.3)
        ([("Content-Length", "5"), ("Content-Length", "5")], 10, 5),
        ([("Content-Length", "99999999999")], None, 99999999999),
    ],
)
def test_request_body_length(fields: list[tuple[str, str]], limit: int | None, length: int) -> None:
    assert request_body_length(Headers(fields), limit) == length


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ([("Transfer-Encoding", "chunked")], 411, "send Content-Length"),
        ([("Transfer-Encoding", "chunked"), ("Content-Length", "3")], 411, "Transfer-Encoding"),
        ([("Content-Length", "5, 6")], 400, "conflicting"),
        ([("Content-Length", "5"), ("Content-Length", "6")], 400, "conflicting"),
        ([("Content-Length", "-1")], 400, "not a number"),
        ([("Content-Length", "0x10")], 400, "not a number"),
        ([("Content-Length", "١٢")], 400, "not a number"),  # Arabic-Indic digits: not ASCII
        ([("Content-Length", "")], 400, "not a number"),
        ([("Content-Length", "11")], 413, "11 bytes is over the limit of 10 bytes"),
    ],
)
def test_request_body_length_refusals(
    fields: list[tuple[str, str]], status: int, reason: str
) -> None:
    with pytest.raises(InvalidHandshake) as info:
        request_body_length(Headers(fields), 10)
    assert info.value.http_status == status
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "a TLS handshake on a plain-text port"),
        (b"\x00\x01binary", "not an HTTP request"),
        (b"GET\x00 / HTTP/1.1", "not an HTTP request"),
    ],
)
def test_a_start_that_cannot_be_a_method_is_refused_at_once(data: bytes, reason: str) -> None:
    """RFC 9112 §3: the method is a token; no need to wait for a CRLF that never comes."""
    parser = RequestHeadParser(Limits())
    with pytest.raises(InvalidHandshake) as info:
        parser.feed(data)
    assert info.value.http_status == 400
    assert reason in info.value.reason


def test_a_method_arriving_in_pieces_is_fine() -> None:
    parser = RequestHeadParser(Limits())
    for piece in (b"", b"GE", b"T /chat HTTP/1.1\r\nHo", b"st: x\r\n"):
        assert parser.feed(piece) is None
    request = parser.feed(b"\r\n")
    assert request is not None
    assert request.method == "GET"


@pytest.mark.parametrize(
    "data",
    [
        b"GE\x00T / HTTP/1.1\r\n" + b"x" * 9000,  # a bad method byte and a too-long line
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",  # only a too-long line
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        b"NONSENSE\r\n\r\n",
    ],
)
def test_the_verdict_does_not_depend_on_how_the_bytes_arrive(data: bytes) -> None:
    """The early method check runs before the limits and never changes its mind as bytes
    arrive: whole or byte by byte, the same refusal (found by the stress suite's fuzzer)."""

    def verdict(pieces: list[bytes]) -> object:
        parser = RequestHeadParser(Limits())
        try:
            for piece in pieces:
                if parser.feed(piece) is not None:
                    return "complete"
        except InvalidHandshake as exc:
            return exc.http_status
        return "incomplete"

    assert verdict([data]) == verdict([data[i : i + 1] for i in range(len(data))])


HEAD_LINE = st.one_of(
    st.sampled_from(
        [
            b"GET / HTTP/1.1",
            b"GET /chat?room=1 HTTP/1.1",
            b"GET / HTTP/1.0",
            b"GET  / HTTP/1.1",
            b"Host: example.com",
            b"X-Padded:  \tvalue \t",
            b"X-Tab: a\tb",
            b"Bad Name: x",
            b"no colon",
            b" folded",
            b"X: a\x00b",
            b"X: \x7f",
            b"X: caf\xc3\xa9",
            b"",
        ]
    ),
    st.binary(max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(
    lines=st.lists(HEAD_LINE, max_size=8),
    trailing=st.binary(max_size=6),
    head_limit=st.integers(min_value=20, max_value=160),
    line_limit=st.integers(min_value=8, max_value=40),
    lines_limit=st.integers(min_value=1, max_value=6),
)
def test_a_head_in_one_piece_is_read_as_byte_by_byte(
    lines: list[bytes], trailing: bytes, head_limit: int, line_limit: int, lines_limit: int
) -> None:
    """A head received whole takes a shorter path (its limits checked at once, its headers
    split by one match); it must come to the same verdict as the line-by-line path: the same
    request and trailing data, or the same refusal, for valid heads, invalid ones and heads at
    and over every limit."""
    data = b"".join(line + b"\r\n" for line in lines) + b"\r\n" + trailing
    limits = Limits(
        max_request_head_size=head_limit,
        max_request_line_size=line_limit,
        max_header_lines=lines_limit,
    )

    def verdict(
        parser_type: type[RequestHeadParser | ResponseHeadParser], pieces: list[bytes]
    ) -> object:
        parser = parser_type(limits)
        try:
            for index, piece in enumerate(pieces):
                result = parser.feed(piece)
                if result is not None:  # with what was not fed yet
                    return result, parser.trailing_data + b"".join(pieces[index + 1 :])
        except InvalidHandshake as exc:
            return exc.http_status, str(exc)
        return "incomplete"

    for parser_type in (RequestHeadParser, ResponseHeadParser):
        whole = verdict(parser_type, [data])
        assert whole == verdict(parser_type, [data[i : i + 1] for i in range(len(data))])


@settings(max_examples=2000, deadline=None)
@given(
    line=st.one_of(
        st.binary(max_size=16),
        st.text(alphabet="Xx-:; \t\x00\x7f\u00e9\r\n", max_size=12).map(
            lambda text: text.encode("latin-1")
        ),
    )
)
def test_the_block_pattern_and_the_line_checks_refuse_the_same_lines(line: bytes) -> None:
    """A header block the one-match path refuses is looked at line by line to name the fault:
    both must agree on every line (a line that neither refuses would be lost between them)."""
    if b"\r\n" in line:
        return  # two lines, not one
    pattern_accepts = _VALID_HEADER_BLOCK.fullmatch(line + b"\r\n") is not None
    assert pattern_accepts is (_header_line_fault(line) is None)
