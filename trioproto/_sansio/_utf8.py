"""Incremental, fail-fast UTF-8 validation of text messages (RFC 6455 §8.1).

"When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not,
in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_." A text
message may be split across frames, and a frame across TCP segments, anywhere, even inside a
code point; the connection must fail as soon as the bytes seen so far cannot begin any valid
UTF-8 text, not only when the message is complete.

Theory of operation: CPython's incremental UTF-8 decoder already fails at the first byte that
rules out every continuation, with one exception: after ``ED`` it holds a second byte in
``A0..BF`` (the start of an encoded surrogate, forbidden by RFC 3629) until a third byte arrives.
:meth:`Utf8Decoder.decode` checks the decoder's pending bytes for that single case, so the
verdict is as early as a byte-wise DFA's while the work stays in C.
"""

from __future__ import annotations

import codecs

from .._exceptions import RemoteProtocolError

__all__ = ["Utf8Decoder", "decode_text"]

_new_decoder = codecs.getincrementaldecoder("utf-8")


def _invalid() -> RemoteProtocolError:
    return RemoteProtocolError("text message is not valid UTF-8", 1007)


def decode_text(data: bytes) -> str:
    """Decode a complete text payload, failing with 1007 if it is not valid UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid() from None


class Utf8Decoder:
    """Decodes one text message piece by piece, failing at the first impossible byte."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = _new_decoder()

    def decode(self, data: bytes, final: bool = False) -> str:
        """Decode the next piece of the message.

        Args:
            data: the next bytes of the message, anywhere from one byte to the whole payload.
            final: this piece ends the message; an incomplete code point is then an error.

        Returns:
            The text decoded so far from this piece (bytes of an incomplete code point are held
            back for the next call).

        Raises:
            RemoteProtocolError: the bytes so far cannot be valid UTF-8 (close code 1007).
        """
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError:
            raise _invalid() from None
        if not final:
            pending = self._decoder.getstate()[0]
            if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
                raise _invalid()
        return text
