"""The exceptions trioproto raises, all rooted at :class:`TrioprotoError`.

Pure Python (layer 0): no trio import. The hierarchy::

    TrioprotoError
    ├── ProtocolError                  a WebSocket rule was broken (RFC 6455 §7.1.7)
    │   ├── RemoteProtocolError        ... by the peer: fail the connection with .close_code
    │   │   └── PayloadTooBig          ... a frame or message over the limit (1009)
    │   └── LocalProtocolError         ... by this side's own code (send after close, bad code)
    ├── HandshakeError                 the opening handshake failed (RFC 6455 §4)
    │   ├── InvalidHandshake           ... the peer's request or response is not acceptable;
    │   │                                  .http_status is what a server answers
    │   └── HandshakeRejected          ... (client) the server answered with a non-101 status
    └── ConnectionClosed               (defined in trioproto._closed, also a
                                        trio.BrokenResourceError) the connection is gone

Like h11, an error raised for the *remote* side carries the wire response it calls for (a close
code or an HTTP status), and the conversion to bytes happens in one place: the codec's
``fail()`` and the handshake's ``reject()``.
"""

from __future__ import annotations

__all__ = [
    "HandshakeError",
    "HandshakeRejected",
    "InvalidHandshake",
    "LocalProtocolError",
    "PayloadTooBig",
    "ProtocolError",
    "RemoteProtocolError",
    "TrioprotoError",
]


class TrioprotoError(Exception):
    """The root of every exception trioproto raises on purpose."""


class ProtocolError(TrioprotoError):
    """A rule of RFC 6455 was broken.

    Attributes:
        close_code: the status code (RFC 6455 §7.4.1) to fail the connection with.
        reason: a short text, safe to send as the close reason (at most 123 UTF-8 bytes).
    """

    def __init__(self, reason: str, close_code: int = 1002) -> None:
        super().__init__(reason)
        self.reason = reason
        self.close_code = close_code


class RemoteProtocolError(ProtocolError):
    """The peer sent something RFC 6455 forbids; the connection must be failed."""


class PayloadTooBig(RemoteProtocolError):
    """A frame or message exceeds the configured limit (close code 1009, RFC 6455 §7.4.1)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 1009)


class LocalProtocolError(ProtocolError):
    """This side's own code asked for something RFC 6455 forbids.

    For instance sending a data frame after a close frame, or a close code that may not be sent.
    Nothing is written to the wire.
    """


class HandshakeError(TrioprotoError):
    """The opening handshake (RFC 6455 §4) failed."""


class InvalidHandshake(HandshakeError):
    """The peer's handshake request (or response) cannot be accepted.

    Attributes:
        http_status: the HTTP status a server answers with (400, 404, 405, 426, 431, ...).
        headers: extra response headers the answer needs, e.g. ``Sec-WebSocket-Version: 13``
            with a 426 (RFC 6455 §4.4).
    """

    def __init__(
        self,
        reason: str,
        http_status: int = 400,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.headers = headers


class HandshakeRejected(HandshakeError):
    """The server answered the opening handshake with something other than 101.

    Attributes:
        status: the HTTP status code the server sent.
        headers: the response headers, as (name, value) pairs in wire order.
        body: the response body (possibly truncated to a bounded size).
    """

    def __init__(
        self,
        status: int,
        reason_phrase: str,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> None:
        super().__init__(_rejection_summary(status, reason_phrase, body))
        self.status = status
        self.reason_phrase = reason_phrase
        self.headers = headers
        self.body = body


#: At most this many characters of a rejection's body appear in its message.
_SUMMARY_BODY_CHARS = 300


def _rejection_summary(status: int, reason_phrase: str, body: bytes) -> str:
    """``server rejected the WebSocket handshake: 400 Bad Request: <the body's text>``.

    The server's body is usually the only place that says *why* (trioproto's own refusals
    name the subprotocols served, the origin refused, ...), so its text is shown on one line,
    shortened; a body that is not UTF-8 text is left out.
    """
    summary = f"server rejected the WebSocket handshake: {status} {reason_phrase}".rstrip()
    try:
        text = " ".join(body.decode("utf-8").split())
    except UnicodeDecodeError:
        return summary
    if len(text) > _SUMMARY_BODY_CHARS:
        text = text[: _SUMMARY_BODY_CHARS - 3] + "..."
    return f"{summary}: {text}" if text else summary
