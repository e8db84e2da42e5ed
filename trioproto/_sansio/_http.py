"""A bounded HTTP/1.1 head parser and writer, just enough for the opening handshake.

Rules (RFC 9112 §2-§5, RFC 9110 §5):

* A head is a start line and header lines, each ending in CRLF, closed by an empty line. Bare
  LF is not accepted as a line ending (RFC 9112 §2.2 allows either choice; every WebSocket client
  sends CRLF, and one terminator keeps the parser single-pass).
* Only ``HTTP/1.1`` is accepted: RFC 6455 §4.1 requires it (505 otherwise).
* Limits (:class:`~trioproto.Limits`) are enforced while bytes arrive, before a CRLF is seen:
  the request line (414), any header line (431), the number of header lines (431) and the
  whole head (431). The buffer never holds more than the head limit plus one read.
* Header names are tokens with no white space before the colon; obsolete line folding is
  refused (RFC 9112 §5.2: 400); values may not contain control characters other than HTAB.
* Bytes after the head are kept as ``trailing_data``: a client may send WebSocket frames in
  the same TCP segment as its request, and they must not be lost.

The parser searches for the end of the head only in bytes it has not scanned yet, so feeding a
head one byte at a time costs O(n) overall.
"""

from __future__ import annotations

import http
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .._config import Limits
from .._exceptions import InvalidHandshake
from ._abnf import TOKEN_BYTES

__all__ = [
    "Headers",
    "Request",
    "RequestHeadParser",
    "Response",
    "ResponseHeadParser",
    "request_body_length",
    "serialize_request",
    "serialize_response",
]

#: HTAB, SP, visible characters and obs-text: a header field's value (RFC 9110 §5.5) and a
#: reason phrase (RFC 9112 §4), as a regex source. No CR in it: the matches below are linear.
_TEXT = rb"[\t\x20-\x7e\x80-\xff]*"
_REQUEST_LINE = re.compile(rb"(" + TOKEN_BYTES + rb") ([^\x00-\x20\x7f]+) (HTTP/\d\.\d)")
_STATUS_LINE = re.compile(rb"(HTTP/\d\.\d) ([0-9]{3})(?: (" + _TEXT + rb"))?")
_HEADER_NAME = re.compile(TOKEN_BYTES)
_BAD_VALUE_CHAR = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
#: Header lines, each with its CRLF, all valid: a token, a colon, a value.
_VALID_HEADER_BLOCK = re.compile(rb"(?:" + TOKEN_BYTES + rb":" + _TEXT + rb"\r\n)*")
#: One header line of such a block: its name and its value (white space not yet stripped).
_HEADER_FIELD = re.compile(rb"(" + TOKEN_BYTES + rb"):(" + _TEXT + rb")\r\n")
_UNSAFE_OUTPUT = re.compile(r"[\r\n\x00]")


class Headers:
    """Immutable, ordered, case-insensitive multi-mapping of header names to values.

    Values are latin-1 decoded strings with surrounding white space removed.
    """

    __slots__ = ("_fields", "_names")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        # Kept for the connection's life (the handler's request), so no dict and no tuple per
        # header: the names and values in one flat tuple (name, value, name, value...), and
        # the lowered names in wire order, interned (every connection shares one copy of each,
        # and comparing them is comparing pointers). A request has a few dozen headers at
        # most: a scan is as fast as hashing. An idle connection holds ~500 bytes less than
        # with a dict, and ~50 bytes per header less than with a (name, value) tuple each.
        self._fields = tuple([field for item in items for field in item])
        self._names = tuple([sys.intern(name.lower()) for name in self._fields[::2]])

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        names = self._names
        if key not in names:  # the scans are C loops over pointers
            return default
        return self._fields[2 * names.index(key) + 1]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        key = name.lower()
        names = self._names
        if key not in names:
            return []
        first = names.index(key)
        fields = self._fields
        if names.count(key) == 1:  # the usual case, decided by a C loop
            return [fields[2 * first + 1]]
        return [fields[2 * i + 1] for i in range(first, len(names)) if names[i] == key]

    def get_list(self, name: str) -> list[str]:
        """The comma-separated elements of every ``name`` header (RFC 9110 §5.6.1), stripped,
        empty elements dropped."""
        return [
            element.strip()
            for value in self.get_all(name)
            for element in value.split(",")
            if element.strip()
        ]

    def items(self) -> tuple[tuple[str, str], ...]:
        """The (name, value) pairs in wire order (made at each call)."""
        fields = self._fields
        return tuple(zip(fields[::2], fields[1::2], strict=True))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._names

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items())

    def __len__(self) -> int:
        return len(self._names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._fields == other._fields

    def __hash__(self) -> int:
        return hash(self._fields)

    def __repr__(self) -> str:
        return f"Headers({list(self.items())!r})"


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request head (RFC 9112 §3)."""

    method: str
    target: str
    http_version: str
    headers: Headers


def request_body_length(headers: Headers, limit: int | None) -> int:
    """The length of a request's body, from its framing headers (RFC 9112 §6.3).

    No ``Content-Length`` and no ``Transfer-Encoding`` means no body (§6.3 rule 6).

    Raises:
        InvalidHandshake: 411 for ``Transfer-Encoding`` (chunked bodies are not read here;
            RFC 9110 §15.5.12 lets a server require a length); 400 for a ``Content-Length``
            that is not one decimal number, or repeats with different values (§6.3 rule 5);
            413 for a length over ``limit`` (RFC 9110 §15.5.14), before any byte is read.
    """
    if "Transfer-Encoding" in headers:
        raise InvalidHandshake(
            "request bodies with Transfer-Encoding are not supported: send Content-Length", 411
        )
    values = {
        value.strip() for field in headers.get_all("Content-Length") for value in field.split(",")
    }
    if not values:
        return 0
    if len(values) > 1:
        raise InvalidHandshake("conflicting Content-Length values", 400)
    (text,) = values
    if not text.isdigit() or not text.isascii():
        raise InvalidHandshake(f"Content-Length is not a number: {text!r}", 400)
    length = int(text)
    if limit is not None and length > limit:
        raise InvalidHandshake(
            f"request body of {length} bytes is over the limit of {limit} bytes", 413
        )
    return length


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response head (RFC 9112 §4)."""

    status_code: int
    reason: str
    http_version: str
    headers: Headers


class _HeadReader:
    """Collects bytes until the empty line that ends a head, enforcing the limits."""

    def __init__(self, limits: Limits, start_line_status: int) -> None:
        self._max_head = limits.max_request_head_size
        self._max_line = limits.max_request_line_size
        self._max_lines = limits.max_header_lines
        self._start_line_status = start_line_status
        self._buffer = bytearray()
        self._scanned = 0  # bytes already searched for the terminator
        self._line_start = 0  # where the line being received starts
        self._lines = 0
        self._done = False
        #: Bytes received after the head (valid once the head is complete).
        self.trailing_data = b""

    def _feed(self, data: bytes | bytearray | memoryview) -> bytes | None:
        """Add received bytes; once the head is complete, its lines, each with its CRLF (the
        empty line that ends it left out), else ``None``."""
        if self._done:
            raise RuntimeError("the head is already complete")
        if not self._buffer and type(data) is bytes:
            head = self._whole_head(data)
            if head is not None:
                return head
        buffer = self._buffer
        buffer += data
        # Count complete lines and check each one's length as it completes.
        position = self._scanned
        while True:
            newline = buffer.find(b"\r\n", max(position - 1, self._line_start))
            if newline < 0:
                break
            self._check_line(newline - self._line_start, terminator=2)
            if newline == self._line_start:  # the empty line: the head is complete
                self._done = True
                head = bytes(buffer[:newline])
                self.trailing_data = bytes(buffer[newline + 2 :])
                self._buffer = bytearray()
                return head
            self._lines += 1
            if self._lines > self._max_lines + 1:
                raise InvalidHandshake(f"more than {self._max_lines} header lines", 431)
            self._line_start = position = newline + 2
        self._scanned = len(buffer)
        # The line still arriving counts too: limits hold before its CRLF is seen. A CR last
        # may be the first half of that CRLF: not counted yet, so that the verdict does not
        # depend on where the bytes were split.
        pending = len(buffer) - self._line_start - buffer.endswith(b"\r")
        self._check_line(pending, terminator=0)
        return None

    def _whole_head(self, data: bytes) -> bytes | None:
        """The head, when the first bytes fed hold all of it within every limit (the usual
        case: a client sends its request in one segment); ``None`` otherwise, and nothing is
        consumed: the line-by-line path then finds the same head, or the error to answer.

        The checks are the ones that path makes, on the whole head at once: the head's first
        empty line is its first CRLF CRLF, unless the first line is empty."""
        end = data.find(b"\r\n\r\n")
        if end <= 0 or end + 4 > self._max_head or data.startswith(b"\r\n"):
            return None
        lines = data[:end].split(b"\r\n")
        if len(lines) > self._max_lines + 1 or max(map(len, lines)) > self._max_line:
            return None
        self._done = True
        self._lines = len(lines)
        self.trailing_data = data[end + 4 :]
        return data[: end + 2]

    def _check_line(self, length: int, terminator: int) -> None:
        """Check a line of ``length`` bytes (CRLF excluded) that starts at ``_line_start``;
        the head limit counts everything up to and including its ``terminator`` bytes."""
        # Both limits over: the one a byte-by-byte feed would have crossed first answers.
        if length > self._max_line and self._line_start + self._max_line <= self._max_head:
            if self._lines == 0:
                raise InvalidHandshake(
                    f"start line longer than {self._max_line} bytes", self._start_line_status
                )
            raise InvalidHandshake(f"header line longer than {self._max_line} bytes", 431)
        if self._line_start + length + terminator > self._max_head:
            raise InvalidHandshake(f"request head larger than {self._max_head} bytes", 431)


def _parse_header_block(block: bytes) -> Headers:
    """The headers of ``block``, header lines each ending in CRLF (RFC 9112 §5).

    A valid block is checked and split by two C-level matches; only a refused one is looked at
    line by line, to name the line at fault."""
    if _VALID_HEADER_BLOCK.fullmatch(block):
        # Names interned: the same few are held by every open connection's request.
        return Headers(
            [
                (sys.intern(name.decode("ascii")), value.strip(b" \t").decode("latin-1"))
                for name, value in _HEADER_FIELD.findall(block)
            ]
        )
    for line in block.split(b"\r\n")[:-1]:
        fault = _header_line_fault(line)
        if fault is not None:
            raise fault
    # The block pattern and _header_line_fault refuse the same lines (tested).
    raise AssertionError("a refused header block without a faulty line")  # pragma: no cover


def _header_line_fault(line: bytes) -> InvalidHandshake | None:
    """Why one header line (CRLF excluded) is refused, or ``None`` if it is valid: obsolete
    folding (RFC 9112 §5.2), a name that is not a token before the colon, a control character
    other than HTAB in the value (RFC 9110 §5.5)."""
    if line[:1] in (b" ", b"\t"):
        return InvalidHandshake("obsolete line folding in headers", 400)
    name, colon, value = line.partition(b":")
    if not colon or not _HEADER_NAME.fullmatch(name):
        return InvalidHandshake(f"invalid header line {line[:40]!r}", 400)
    if _BAD_VALUE_CHAR.search(value.strip(b" \t")):
        return InvalidHandshake(f"control character in header {name.decode()!r}", 400)
    return None


_METHOD_PREFIX = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]*")
#: The first byte of a TLS record carrying a handshake (RFC 8446 §5.1): a ClientHello.
_TLS_HANDSHAKE_RECORD = 0x16


class RequestHeadParser(_HeadReader):
    """Reads one request head, fed incrementally.

    Args:
        limits: ``max_request_head_size``, ``max_request_line_size`` and ``max_header_lines``.
    """

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits, 414)

    def _check_method_so_far(self, start: bytes) -> None:
        """Refuse at once a start that cannot be a method (RFC 9112 §3: a token, then SP),
        rather than wait for a CRLF that never comes: a TLS ClientHello sent to a plain-text
        port is the usual case (a ``wss://`` URL for a ``ws://`` server).

        ``start`` is the first 32 bytes received (fewer while fewer arrived). The check runs
        before any limit is applied, and its verdict on a prefix never changes as more bytes
        arrive, so the answer does not depend on how the bytes were split."""
        # Up to the first SP, or CR (a complete line is judged by the full parser instead).
        method = start[:32].split(b" ", 1)[0].split(b"\r", 1)[0]
        if _METHOD_PREFIX.fullmatch(method):
            return
        if method[0] == _TLS_HANDSHAKE_RECORD:
            raise InvalidHandshake("a TLS handshake on a plain-text port: use ws://, not wss://")
        raise InvalidHandshake("not an HTTP request", 400)

    def feed(self, data: bytes | bytearray | memoryview) -> Request | None:
        """Add received bytes; returns the :class:`Request` once the head is complete.

        Raises:
            InvalidHandshake: with the status to answer (400, 414, 431, 505).
        """
        if self._lines == 0 and len(self._buffer) < 32:
            self._check_method_so_far(bytes(self._buffer) + bytes(data[:32]))
        head = self._feed(data)
        if head is None:
            return None
        start_line, _, header_block = head.partition(b"\r\n")
        match = _REQUEST_LINE.fullmatch(start_line)
        if match is None:
            raise InvalidHandshake("malformed request line", 400)
        method, target, version = match.groups()
        if version != b"HTTP/1.1":
            raise InvalidHandshake(
                f"{version.decode()} is not supported: WebSocket needs HTTP/1.1", 505
            )
        headers = _parse_header_block(header_block)
        return Request(method.decode("ascii"), target.decode("latin-1"), "HTTP/1.1", headers)


class ResponseHeadParser(_HeadReader):
    """Reads one response head (the client side of the handshake), fed incrementally."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits, 400)

    def feed(self, data: bytes | bytearray | memoryview) -> Response | None:
        """Add received bytes; returns the :class:`Response` once the head is complete.

        Raises:
            InvalidHandshake: the response head is malformed or too large.
        """
        head = self._feed(data)
        if head is None:
            return None
        start_line, _, header_block = head.partition(b"\r\n")
        match = _STATUS_LINE.fullmatch(start_line)
        if match is None:
            raise InvalidHandshake("malformed status line", 400)
        version, status, reason = match.groups()
        if version != b"HTTP/1.1":
            raise InvalidHandshake(f"unsupported response version {version.decode()}", 400)
        return Response(
            int(status),
            (reason or b"").decode("latin-1"),
            "HTTP/1.1",
            _parse_header_block(header_block),
        )


def _serialize_headers(headers: Iterable[tuple[str, str]]) -> list[bytes]:
    lines = []
    for name, value in headers:
        if _UNSAFE_OUTPUT.search(name) or _UNSAFE_OUTPUT.search(value) or ":" in name:
            raise ValueError(f"unsafe header {name!r}: {value!r}")
        lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    return lines


def serialize_request(method: str, target: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 request head.

    Raises:
        ValueError: a header name or value contains CR, LF or NUL (header injection).
    """
    if _UNSAFE_OUTPUT.search(target) or " " in target:
        raise ValueError(f"unsafe request target {target!r}")
    return b"".join(
        [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), *_serialize_headers(headers), b"\r\n"]
    )


def serialize_response(
    status_code: int,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
    *,
    reason: str | None = None,
) -> bytes:
    """An HTTP/1.1 response; ``Content-Length`` is added for every status but 101.

    Raises:
        ValueError: a header name or value contains CR, LF or NUL (header injection).
    """
    if reason is None:
        try:
            reason = http.HTTPStatus(status_code).phrase
        except ValueError:
            reason = "Unknown"
    header_list = list(headers)
    if status_code != 101 and not any(n.lower() == "content-length" for n, _ in header_list):
        header_list.append(("Content-Length", str(len(body))))
    return b"".join(
        [
            f"HTTP/1.1 {status_code} {reason}\r\n".encode("latin-1"),
            *_serialize_headers(header_list),
            b"\r\n",
            body,
        ]
    )
