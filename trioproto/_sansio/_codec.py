"""The RFC 6455 framing state machine: bytes in, events out; calls in, bytes out.

Theory of operation
-------------------
The codec has three verbs, like h11 and wsproto:

* :meth:`Codec.receive_data` / :meth:`Codec.receive_eof` take what the transport read;
* :meth:`Codec.events` hands back what that data meant (:mod:`._events`);
* ``send_*()`` methods queue frames, and :meth:`Codec.data_to_send` returns the bytes to write.

It starts in the OPEN state (the opening handshake is :mod:`._handshake`'s job), optionally with
``trailing_data``: bytes that arrived after the handshake head, as happens when a client sends
frames in the same segment as its request, or when an application upgrades late.

States (RFC 6455 §7)::

    OPEN    --send_close()-------------------> CLOSING --peer's close--> CLOSED
    OPEN    --peer's close (we echo it)----------------------------------> CLOSED
    OPEN    --peer's violation---------------> FAILING --fail_for_violation(),
                                                         send_close() or fail()--> CLOSED
    CLOSING --peer's violation (nothing more to deliver)-----------------> CLOSED
    any     --fail() or receive_eof() (abnormal: 1006)-------------------> CLOSED

Everything that changes the state is in this class; the state is never implied by a flag.

Received frames are parsed from one ``bytearray``. A complete small frame takes the fast path:
one slice, one unmask, one decode. A data frame whose payload is still arriving is consumed as it
comes (never buffered whole twice), so invalid UTF-8 fails the connection at the first bad
segment even inside one large frame (RFC 6455 §8.1, Autobahn 6.4.3-6.4.4), and a frame too
large for the limits fails from its header alone, before any payload is buffered.

Errors: every violation by the peer raises :class:`RemoteProtocolError` inside the parser;
:meth:`Codec.receive_data` records it in :attr:`Codec.failure` and stops parsing. In OPEN the
state becomes FAILING: the messages parsed before the violation have been handed out as events
and may still be answered (the strict outcome of Autobahn cases 3.2, 4.1.3, 5.15), until the
caller calls :meth:`Codec.fail_for_violation`, the one place that turns the violation into
§7.1.7 "Fail the WebSocket Connection" (a close frame with the error's code, then CLOSED).
Misuse by this side's own code raises :class:`LocalProtocolError` at the call.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from typing import Final, Protocol

from .._config import DEFAULT_LIMITS
from .._exceptions import LocalProtocolError, PayloadTooBig, RemoteProtocolError
from ._events import CloseReceived, Event, Message, Ping, Pong
from ._frames import (
    MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD,
    CloseCode,
    Opcode,
    is_sendable_close_code,
    parse_close_payload,
    parse_header,
    serialize_close_payload,
    serialize_frame,
)
from ._mask import apply_mask, rotate_mask
from ._utf8 import Utf8Decoder, decode_text

__all__ = ["Codec", "MessageCompressor", "Role", "State"]

_TEXT: Final = int(Opcode.TEXT)
_BINARY: Final = int(Opcode.BINARY)
_CONTINUATION: Final = int(Opcode.CONTINUATION)
_CLOSE: Final = int(Opcode.CLOSE)
_PING: Final = int(Opcode.PING)
_PONG: Final = int(Opcode.PONG)
_KNOWN_OPCODES: Final = frozenset(int(op) for op in Opcode)
_RSV1: Final = 0x40
_RSV_BITS: Final = 0x70
_FIN: Final = 0x80
_MASK: Final = 0x80  # in a header's second byte


class Role(enum.Enum):
    """Which end of the connection the codec plays (masking rules, RFC 6455 §5.1)."""

    CLIENT = "client"
    SERVER = "server"


class State(enum.Enum):
    """Connection states after the opening handshake (RFC 6455 §4.1, §7)."""

    #: "The WebSocket Connection is Established"; data flows both ways.
    OPEN = "open"
    #: We sent a close frame and wait for the peer's (RFC 6455 §7.1.2).
    CLOSING = "closing"
    #: The peer violated the protocol (see ``Codec.failure``): nothing more is parsed, but
    #: answers to the messages before the violation may still be sent until the caller fails
    #: the connection (RFC 6455 §7.1.7) with ``Codec.fail_for_violation()``.
    FAILING = "failing"
    #: "The WebSocket Closing Handshake is Started" and finished, or the connection failed:
    #: nothing more is parsed, nothing more may be sent.
    CLOSED = "closed"


class MessageCompressor(Protocol):
    """What the codec needs from a negotiated per-message compression (RFC 7692)."""

    def decompress(self, data: bytes, fin: bool, max_length: int | None) -> bytes:
        """Inflate the next piece of a compressed message, at most ``max_length`` bytes."""

    def compress(self, data: bytes) -> bytes:
        """Deflate a whole message payload."""

    def should_compress(self, size: int) -> bool:
        """Whether a message of ``size`` bytes is worth compressing."""


class Codec:
    """RFC 6455 framing for one connection, in the OPEN state from the start.

    Args:
        role: client or server; decides which side masks (RFC 6455 §5.1).
        max_message_size: the largest message accepted, in bytes, after inflation (RFC 7692);
            ``None``: no limit. Enforced from frame headers and, when compressed, while
            inflating (1009).
        max_frame_size: the largest frame payload accepted, in bytes; ``None``: no limit.
        compression: the negotiated permessage-deflate, or ``None``; RSV1 is a protocol error
            without it (RFC 6455 §5.2).
        auto_pong: answer pings with pongs (RFC 6455 §5.5.2). Pings are reported as events
            either way.
        trailing_data: bytes received after the opening handshake, parsed at once.
        mask_source: where client masking keys come from (RFC 6455 §10.3: "strong source of
            entropy"); takes a byte count and returns that many random bytes.
    """

    # Slots: an idle server holds one of these per connection.
    __slots__ = (
        "_buffer",
        "_events",
        "_frame_fin",
        "_frame_mask",
        "_frame_offset",
        "_frame_remaining",
        "_is_server",
        "_mask_source",
        "_max_frame",
        "_max_message",
        "_message_compressed",
        "_message_decoder",
        "_message_opcode",
        "_message_parts",
        "_message_size",
        "_outgoing",
        "_sending_opcode",
        "_small_payload",
        "_state",
        "auto_pong",
        "close_initiator",
        "close_received",
        "close_sent",
        "compression",
        "eof_received",
        "failure",
        "paused",
        "role",
    )

    def __init__(
        self,
        role: Role,
        *,
        max_message_size: int | None = DEFAULT_LIMITS.max_message_size,
        max_frame_size: int | None = DEFAULT_LIMITS.effective_max_frame_size,
        compression: MessageCompressor | None = None,
        auto_pong: bool = True,
        trailing_data: bytes = b"",
        mask_source: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.role = role
        self.compression = compression
        self.auto_pong = auto_pong
        self._is_server = role is Role.SERVER
        self._max_frame = max_frame_size
        self._max_message = max_message_size
        # The largest payload of a client's small frame (7-bit length) that no limit refuses:
        # such frames take the shortest path in _parse. -1 (never) for a client codec, which
        # receives unmasked frames.
        limits = [limit for limit in (max_frame_size, max_message_size) if limit is not None]
        self._small_payload = min([125, *limits]) if self._is_server else -1
        self._mask_source = mask_source
        self._state = State.OPEN
        #: The close frame we sent, as (code, reason); code is None for an empty close payload.
        self.close_sent: tuple[int | None, str] | None = None
        #: The peer's close frame, as (code, reason); code 1005 when it carried none.
        self.close_received: tuple[int, str] | None = None
        #: Which end sent the first close frame (RFC 6455 §7.1.2 starts the closing handshake,
        #: §7.1.3 answers it); ``None`` while neither has.
        self.close_initiator: Role | None = None
        #: The peer's violation (state FAILING, then CLOSED once failed), if any.
        self.failure: RemoteProtocolError | None = None
        #: The transport reported end of file.
        self.eof_received = False
        self._buffer = bytearray()
        #: Parsing stopped after a decompressed message with bytes still buffered: collect
        #: the :meth:`events`, then call ``receive_data(b"")`` to go on.
        self.paused = False
        self._events: list[Event] = []
        self._outgoing: list[bytes] = []
        # The data frame whose payload is being received (RFC 6455 §5.2).
        self._frame_remaining = 0
        self._frame_mask: bytes | None = None
        self._frame_offset = 0
        self._frame_fin = False
        # The data message in progress, if any (RFC 6455 §5.4).
        self._message_opcode: int | None = None
        self._message_compressed = False
        self._message_size = 0
        self._message_parts: list[str | bytes] = []
        self._message_decoder: Utf8Decoder | None = None
        # The outgoing fragmented message in progress, if any.
        self._sending_opcode: int | None = None
        if trailing_data:
            self.receive_data(trailing_data)

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> State:
        """The current :class:`State`."""
        return self._state

    @property
    def should_close_transport(self) -> bool:
        """Whether the caller should now close the TCP connection (after writing the output).

        True once CLOSED for a server ("the server MUST close the underlying TCP connection
        immediately", RFC 6455 §7.1.1) and after a failure or EOF for either role. A client
        that completed the close handshake waits for the server's TCP close instead.
        """
        if self._state is not State.CLOSED:
            return False
        return self._is_server or self.failure is not None or self.eof_received

    # ---------------------------------------------------------------- receive

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the transport; then call :meth:`events`, then
        :meth:`data_to_send` (a received ping or close queues a reply).

        A protocol violation does not raise: it is recorded in :attr:`failure` and the state
        becomes FAILING (or CLOSED at once while CLOSING, when nothing is delivered any more).
        """
        if self._state is State.CLOSED or self._state is State.FAILING:
            return
        self._buffer += data
        self.paused = False
        try:
            self._parse()
        except RemoteProtocolError as exc:
            self.failure = exc
            self._buffer.clear()
            if self._state is State.OPEN:
                self._state = State.FAILING
            else:
                self.fail_for_violation()

    def fail_for_violation(self) -> None:
        """:meth:`fail` with the close code and reason of the recorded :attr:`failure`
        (RFC 6455 §7.1.7); nothing is queued when a close frame was sent already."""
        assert self.failure is not None, "no violation was recorded"
        self.fail(self.failure.close_code, self.failure.reason)

    def receive_eof(self) -> None:
        """Report that the transport reached end of file; the connection is now CLOSED.

        Before the close handshake finished, this is an abnormal closure (1006, RFC 6455
        §7.1.5).
        """
        self.eof_received = True
        self._state = State.CLOSED
        self._buffer.clear()

    def events(self) -> list[Event]:
        """Return and forget the events parsed since the last call, in order."""
        events = self._events
        self._events = []
        return events

    def _parse(self) -> None:
        buffer = self._buffer
        end = len(buffer)
        position = 0
        # Payloads are unmasked straight from a view of the buffer: one copy, not two. Every
        # slice of it is consumed before the view is released and the buffer trimmed.
        view = memoryview(buffer)
        try:
            while position < end and self._state is not State.CLOSED and not self.paused:
                if self._frame_remaining:
                    take = min(self._frame_remaining, end - position)
                    self._receive_payload(view[position : position + take])
                    position += take
                    continue
                first = buffer[position]
                if (first == _FIN | _BINARY or first == _FIN | _TEXT) and end - position >= 6:
                    # Shortest path: a whole masked frame with a 7-bit length, FIN and no RSV
                    # bit: the checks of _check_header, for this frame, come down to these.
                    # MASK set: the 7-bit length (126 and 127, extended lengths, exceed any
                    # small payload); MASK clear (a violation): 128 or more, the general path.
                    length = buffer[position + 1] ^ _MASK
                    if (
                        length <= self._small_payload
                        and end - position - 6 >= length
                        and self._message_opcode is None
                        and self._state is State.OPEN
                    ):
                        start = position + 6
                        position = start + length
                        payload = apply_mask(view[start:position], buffer[start - 4 : start])
                        self._events.append(
                            Message(decode_text(payload) if first & _TEXT else payload)
                        )
                        continue
                header = parse_header(buffer, position)
                if header is None:
                    break
                first, opcode, length, mask, size = header
                self._check_header(first, opcode, length, mask is None)
                start = position + size
                complete = end - start >= length
                if opcode & 0x8:
                    if not complete:
                        break
                    position = start + length
                    self._receive_control(opcode, _unmask(view[start:position], mask))
                    continue
                if not complete and not self._streams_payload(opcode, first):
                    break  # wait for the whole frame (the header is checked again then)
                fin = bool(first & _FIN)
                if fin and opcode and complete and not first & _RSV1 and self._state is State.OPEN:
                    # Fast path: a whole, unfragmented, uncompressed message is here.
                    position = start + length
                    payload = _unmask(view[start:position], mask)
                    self._events.append(
                        Message(decode_text(payload) if opcode == _TEXT else payload)
                    )
                    continue
                position = start
                self._begin_data_frame(opcode, fin, bool(first & _RSV1), length, mask)
        finally:
            view.release()
            del buffer[:position]

    def _streams_payload(self, opcode: int, first: int) -> bool:
        """Whether a data frame's payload is consumed as it arrives rather than when whole.

        Text is, so that invalid UTF-8 fails at the first bad segment (RFC 6455 §8.1), and so
        are compressed messages, so that inflation is capped as it goes (RFC 7692). Plain binary
        frames are taken whole, which saves two copies of the payload.
        """
        if opcode == _CONTINUATION:
            return self._message_opcode == _TEXT or self._message_compressed
        return opcode == _TEXT or bool(first & _RSV1)

    def _check_header(self, first: int, opcode: int, length: int, unmasked: bool) -> None:
        """Validate a frame header before any of its payload is read (RFC 6455 §5.2-§5.5)."""
        if first & _RSV_BITS and (
            first & _RSV_BITS != _RSV1 or self.compression is None or opcode not in (_TEXT, _BINARY)
        ):
            raise RemoteProtocolError("reserved bits set without a negotiated extension")
        if opcode not in _KNOWN_OPCODES:
            raise RemoteProtocolError(f"unknown opcode {opcode:#x}")
        if unmasked is self._is_server:
            if self._is_server:
                raise RemoteProtocolError("client frame is not masked")
            raise RemoteProtocolError("server frame is masked")
        if opcode & 0x8:
            if length > MAX_CONTROL_PAYLOAD:
                raise RemoteProtocolError("control frame payload longer than 125 bytes")
            if not first & _FIN:
                raise RemoteProtocolError("fragmented control frame")
            return
        if opcode == _CONTINUATION:
            if self._message_opcode is None:
                raise RemoteProtocolError("continuation frame without a message in progress")
            compressed = self._message_compressed
        else:
            if self._message_opcode is not None:
                raise RemoteProtocolError("new data frame while a fragmented message is open")
            compressed = bool(first & _RSV1)
        if self._max_frame is not None and length > self._max_frame:
            raise PayloadTooBig(f"frame of {length} bytes exceeds the limit of {self._max_frame}")
        if (
            not compressed
            and self._max_message is not None
            and self._message_size + length > self._max_message
        ):
            raise PayloadTooBig(f"message exceeds the limit of {self._max_message} bytes")

    def _begin_data_frame(
        self, opcode: int, fin: bool, compressed: bool, length: int, mask: bytes | None
    ) -> None:
        if opcode != _CONTINUATION:
            self._message_opcode = opcode
            self._message_compressed = compressed
            self._message_size = 0
            if opcode == _TEXT:
                self._message_decoder = Utf8Decoder()
        self._frame_fin = fin
        self._frame_mask = mask
        self._frame_offset = 0
        self._frame_remaining = length
        if not length:
            self._receive_payload(b"")

    def _receive_payload(self, piece: bytes | memoryview) -> None:
        """Take the next (masked) piece of the current data frame's payload."""
        mask = self._frame_mask
        if mask is not None and piece:
            chunk = apply_mask(piece, rotate_mask(mask, self._frame_offset))
            self._frame_offset += len(chunk)
        else:
            chunk = bytes(piece)
        del piece  # release the buffer view before the buffer is trimmed
        self._frame_remaining -= len(chunk)
        frame_done = not self._frame_remaining
        message_done = frame_done and self._frame_fin
        if self._state is State.OPEN:
            data = chunk
            if self._message_compressed:
                assert self.compression is not None
                allowance = None
                if self._max_message is not None:
                    allowance = self._max_message - self._message_size
                data = self.compression.decompress(chunk, message_done, allowance)
            self._message_size += len(data)
            decoder = self._message_decoder
            if decoder is not None:
                self._message_parts.append(decoder.decode(data, message_done))
            elif data:
                self._message_parts.append(data)
        if message_done:
            if self._state is State.OPEN:
                self._deliver()
            self._message_opcode = None
            self._message_size = 0
            self._message_decoder = None
            self._message_parts = []

    def _deliver(self) -> None:
        parts = self._message_parts
        data: str | bytes = (
            "".join(parts)  # type: ignore[arg-type]
            if self._message_opcode == _TEXT
            else b"".join(parts)  # type: ignore[arg-type]
        )
        self._events.append(Message(data))
        if self._message_compressed:
            # A few bytes on the wire may inflate to max_message_size: hand this message over
            # before inflating the next, so the caller's queue bound applies to decoded bytes.
            self.paused = True

    def _receive_control(self, opcode: int, payload: bytes) -> None:
        if opcode == _PING:
            self._events.append(Ping(payload))
            if self.auto_pong and self._state is State.OPEN:
                self._queue_frame(_PONG, payload)
        elif opcode == _PONG:
            self._events.append(Pong(payload))
        else:
            code, reason = parse_close_payload(payload)
            self.close_received = (code, reason)
            if self.close_initiator is None:
                self.close_initiator = Role.CLIENT if self._is_server else Role.SERVER
            if self._state is State.OPEN:
                # "the endpoint typically echos the status code it received" (§5.5.1).
                reply = CloseCode.NORMAL_CLOSURE if code == CloseCode.NO_STATUS_RCVD else code
                self._queue_close(reply, "")
            self._state = State.CLOSED
            self._events.append(CloseReceived(code, reason))

    # ------------------------------------------------------------------- send

    def send_message(self, data: str | bytes | bytearray | memoryview) -> None:
        """Queue a whole message: ``str`` as text, bytes-like as binary (RFC 6455 §5.6).

        Compressed when permessage-deflate was negotiated and the compressor finds the message
        worth it. Then call :meth:`data_to_send`.

        Raises:
            LocalProtocolError: the connection is not OPEN, or a fragmented send is unfinished.
        """
        self._check_can_send()
        if self._sending_opcode is not None:
            raise LocalProtocolError("a fragmented message is being sent")
        if isinstance(data, str):
            opcode = _TEXT
            payload = data.encode("utf-8")
        else:
            opcode = _BINARY
            payload = bytes(data)
        compression = self.compression
        if compression is not None and compression.should_compress(len(payload)):
            self._queue_frame(opcode, compression.compress(payload), rsv1=True)
        else:
            self._queue_frame(opcode, payload)

    def send_fragment(self, data: str | bytes | bytearray | memoryview, final: bool) -> None:
        """Queue one frame of a fragmented message (RFC 6455 §5.4); sent uncompressed.

        The first fragment's type (``str`` or bytes-like) decides the message type; later
        fragments must have the same type. Control frames may be sent in between.

        Raises:
            LocalProtocolError: the connection is not OPEN, or the type changed mid-message.
        """
        self._check_can_send()
        is_text = isinstance(data, str)
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if self._sending_opcode is None:
            self._sending_opcode = _TEXT if is_text else _BINARY
            opcode = self._sending_opcode
        else:
            if (self._sending_opcode == _TEXT) is not is_text:
                raise LocalProtocolError("fragments of one message must all be str or bytes")
            opcode = _CONTINUATION
        self._queue_frame(opcode, payload, fin=final)
        if final:
            self._sending_opcode = None

    def send_ping(self, payload: bytes = b"") -> None:
        """Queue a ping (RFC 6455 §5.5.2) with at most 125 bytes of payload."""
        self._check_can_send()
        self._check_control_payload(payload)
        self._queue_frame(_PING, bytes(payload))

    def send_pong(self, payload: bytes = b"") -> None:
        """Queue a pong (RFC 6455 §5.5.3): a ping's answer, or an unsolicited heartbeat."""
        self._check_can_send()
        self._check_control_payload(payload)
        self._queue_frame(_PONG, bytes(payload))

    def send_close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 §7.1.2); the state becomes CLOSING.

        Args:
            code: a status code that may be sent (RFC 6455 §7.4), or ``None`` for a close frame
                without payload.
            reason: at most 123 bytes of UTF-8; must be empty when ``code`` is ``None``.

        In FAILING the state becomes CLOSED instead: nothing more will be parsed, so no answer
        is awaited.

        Raises:
            LocalProtocolError: not OPEN (or FAILING), an unsendable code, or a reason that is
                too long.
        """
        if self._state is not State.OPEN and self._state is not State.FAILING:
            raise LocalProtocolError(f"cannot send a close frame in state {self._state.name}")
        if code is None:
            if reason:
                raise LocalProtocolError("a close reason needs a close code")
        elif not is_sendable_close_code(code):
            raise LocalProtocolError(f"close code {code} may not be sent")
        if len(reason.encode("utf-8")) > MAX_CLOSE_REASON:
            raise LocalProtocolError(f"close reason longer than {MAX_CLOSE_REASON} bytes")
        self._queue_close(code, reason)
        self._state = State.CLOSING if self._state is State.OPEN else State.CLOSED

    def fail(self, code: int = CloseCode.PROTOCOL_ERROR, reason: str = "") -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7).

        Queues a close frame with ``code`` unless one was already sent, and moves to CLOSED:
        nothing more is parsed. Write :meth:`data_to_send`, then close the transport.
        ``reason`` is cut to 123 bytes at a character boundary. Codes that may not be sent
        (1005, 1006, 1015) produce an empty close frame.
        """
        if self._state is State.OPEN or self._state is State.FAILING:
            if is_sendable_close_code(code):
                self._queue_close(code, _truncate_reason(reason))
            else:
                self._queue_close(None, "")
        self._state = State.CLOSED
        self._buffer.clear()

    @property
    def sending_fragments(self) -> bool:
        """Whether a fragmented message is being sent: until its final frame, no other data
        frame may be sent (RFC 6455 §5.4; control frames may)."""
        return self._sending_opcode is not None

    @property
    def has_data_to_send(self) -> bool:
        """Whether :meth:`data_to_send` would return something."""
        return bool(self._outgoing)

    def data_to_send(self) -> bytes:
        """Return and forget the bytes queued for the transport (possibly ``b""``)."""
        outgoing = self._outgoing
        if not outgoing:
            return b""
        self._outgoing = []
        return outgoing[0] if len(outgoing) == 1 else b"".join(outgoing)

    def _check_can_send(self) -> None:
        if self._state is not State.OPEN and self._state is not State.FAILING:
            raise LocalProtocolError(f"cannot send in state {self._state.name}")

    @staticmethod
    def _check_control_payload(payload: bytes) -> None:
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise LocalProtocolError("control frame payload longer than 125 bytes")

    def _queue_close(self, code: int | None, reason: str) -> None:
        self.close_sent = (code, reason)
        if self.close_initiator is None:
            self.close_initiator = self.role
        self._queue_frame(_CLOSE, serialize_close_payload(code, reason))

    def _queue_frame(
        self, opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False
    ) -> None:
        mask = None if self._is_server else self._mask_source(4)
        self._outgoing.append(serialize_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=mask))


def _unmask(payload: memoryview, mask: bytes | None) -> bytes:
    return apply_mask(payload, mask) if mask is not None else bytes(payload)


def _truncate_reason(reason: str) -> str:
    encoded = reason.encode("utf-8")
    if len(encoded) <= MAX_CLOSE_REASON:
        return reason
    return encoded[:MAX_CLOSE_REASON].decode("utf-8", "ignore")
