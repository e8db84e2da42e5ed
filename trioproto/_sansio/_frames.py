"""Frame-level vocabulary of RFC 6455 §5: opcodes, close codes, header parsing, serialisation.

Rules this module owns (RFC 6455 §5.2):

* A header is 2 bytes, then a 16- or 64-bit extended length when the 7-bit length is 126 or
  127, then a 4-byte masking key when the MASK bit is set.
* The 64-bit length must have its most significant bit clear (§5.2: "the most significant bit
  MUST be 0"); a violation fails the connection with 1002.
* Close payloads are empty, or a 2-byte code followed by a UTF-8 reason (§5.5.1); the codes a
  peer may put on the wire are listed in :func:`is_sendable_close_code` (§7.4).

Everything here is stateless; the rules that need state (fragmentation, the close handshake)
live in :mod:`._codec`.
"""

from __future__ import annotations

import enum
import struct
from typing import Final

from .._exceptions import RemoteProtocolError
from ._mask import apply_mask

__all__ = [
    "MAX_CLOSE_REASON",
    "MAX_CONTROL_PAYLOAD",
    "CloseCode",
    "Opcode",
    "is_sendable_close_code",
    "parse_close_payload",
    "parse_header",
    "serialize_close_payload",
    "serialize_frame",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 §5.2, §11.8)."""

    #: "denotes a continuation frame"
    CONTINUATION = 0x0
    #: "denotes a text frame"
    TEXT = 0x1
    #: "denotes a binary frame"
    BINARY = 0x2
    #: "denotes a connection close"
    CLOSE = 0x8
    #: "denotes a ping"
    PING = 0x9
    #: "denotes a pong"
    PONG = 0xA


#: "All control frames MUST have a payload length of 125 bytes or less" (RFC 6455 §5.5).
MAX_CONTROL_PAYLOAD: Final = 125
#: 125 bytes of control payload minus the 2-byte status code (RFC 6455 §5.5.1).
MAX_CLOSE_REASON: Final = 123


class CloseCode(enum.IntEnum):
    """Status codes for the close frame (RFC 6455 §7.4.1 and the IANA registry)."""

    #: "indicates a normal closure, meaning that the purpose for which the connection was
    #: established has been fulfilled."
    NORMAL_CLOSURE = 1000
    #: "indicates that an endpoint is "going away", such as a server going down or a browser
    #: having navigated away from a page."
    GOING_AWAY = 1001
    #: "indicates that an endpoint is terminating the connection due to a protocol error."
    PROTOCOL_ERROR = 1002
    #: "indicates that an endpoint is terminating the connection because it has received a type
    #: of data it cannot accept"
    UNSUPPORTED_DATA = 1003
    #: "Reserved. The specific meaning might be defined in the future." Never on the wire.
    RESERVED = 1004
    #: "a reserved value ... designated for use in applications expecting a status code to
    #: indicate that no status code was actually present." Never on the wire.
    NO_STATUS_RCVD = 1005
    #: "a reserved value ... to indicate that the connection was closed abnormally, e.g.,
    #: without sending or receiving a Close control frame." Never on the wire.
    ABNORMAL_CLOSURE = 1006
    #: "an endpoint is terminating the connection because it has received data within a message
    #: that was not consistent with the type of the message (e.g., non-UTF-8 data within a text
    #: message)."
    INVALID_FRAME_PAYLOAD_DATA = 1007
    #: "an endpoint is terminating the connection because it has received a message that
    #: violates its policy."
    POLICY_VIOLATION = 1008
    #: "an endpoint is terminating the connection because it has received a message that is too
    #: big for it to process."
    MESSAGE_TOO_BIG = 1009
    #: "an endpoint (client) is terminating the connection because it has expected the server
    #: to negotiate one or more extension, but the server didn't return them"
    MANDATORY_EXTENSION = 1010
    #: "a server is terminating the connection because it encountered an unexpected condition
    #: that prevented it from fulfilling the request."
    INTERNAL_ERROR = 1011
    #: IANA: "Service Restart".
    SERVICE_RESTART = 1012
    #: IANA: "Try Again Later".
    TRY_AGAIN_LATER = 1013
    #: IANA: "Bad Gateway" (the server acting as a gateway received an invalid response).
    BAD_GATEWAY = 1014
    #: "a reserved value ... to indicate that the connection was closed due to a failure to
    #: perform a TLS handshake". Never on the wire.
    TLS_HANDSHAKE = 1015


def is_sendable_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame (RFC 6455 §7.4.1, §7.4.2).

    1000-1003 and 1007-1014 are defined (1012-1014 through the IANA registry); 3000-3999 are for
    libraries and frameworks, 4000-4999 for private use. Everything else (0-999, 1004-1006,
    1015, the unassigned 1016-2999 and 5000+) is invalid on the wire.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


_unpack_16: Final = struct.Struct("!H").unpack_from
_unpack_64: Final = struct.Struct("!Q").unpack_from
_pack_short: Final = struct.Struct("!BB").pack
_pack_medium: Final = struct.Struct("!BBH").pack
_pack_long: Final = struct.Struct("!BBQ").pack


def parse_header(
    buffer: bytes | bytearray, offset: int = 0
) -> tuple[int, int, int, bytes | None, int] | None:
    """Parse the frame header starting at ``buffer[offset]`` (RFC 6455 §5.2).

    Args:
        buffer: received bytes.
        offset: where the header starts.

    Returns:
        ``None`` when the header is not complete yet; else ``(first_byte, opcode, length,
        mask, header_size)``: the first byte holds FIN (0x80) and RSV1-3 (0x70); ``mask`` is
        the 4-byte masking key or ``None`` for an unmasked frame.

    Raises:
        RemoteProtocolError: a 64-bit length with its most significant bit set (1002).
    """
    available = len(buffer) - offset
    if available < 2:
        return None
    first = buffer[offset]
    second = buffer[offset + 1]
    length = second & 0x7F
    size = 2
    if length == 126:
        size = 4
        if available < 4:
            return None
        (length,) = _unpack_16(buffer, offset + 2)
    elif length == 127:
        size = 10
        if available < 10:
            return None
        (length,) = _unpack_64(buffer, offset + 2)
        if length >> 63:
            raise RemoteProtocolError("frame length has its most significant bit set")
    if second & 0x80:
        if available < size + 4:
            return None
        mask = bytes(buffer[offset + size : offset + size + 4])
        size += 4
    else:
        mask = None
    return first, first & 0x0F, length, mask, size


def serialize_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bytes | None = None,
) -> bytes:
    """Build one frame (RFC 6455 §5.2), masking the payload when ``mask`` is given.

    Args:
        opcode: the frame's opcode.
        payload: the unmasked payload.
        fin: whether this is the final fragment of a message.
        rsv1: set RSV1 ("per-message compressed", RFC 7692 §6).
        mask: a 4-byte masking key; clients must mask every frame (RFC 6455 §5.3).

    Returns:
        The frame's bytes.
    """
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    length = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if length < 126:
        header = _pack_short(first, mask_bit | length)
    elif length < 65536:
        header = _pack_medium(first, mask_bit | 126, length)
    else:
        header = _pack_long(first, mask_bit | 127, length)
    if mask is not None:
        return header + mask + apply_mask(payload, mask)
    return header + payload


def parse_close_payload(payload: bytes) -> tuple[int, str]:
    """Decode a received close frame's payload (RFC 6455 §5.5.1).

    Returns:
        ``(code, reason)``; ``(1005, "")`` for an empty payload (RFC 6455 §7.1.5).

    Raises:
        RemoteProtocolError: a 1-byte payload or a code that may not be sent (1002); a reason
            that is not UTF-8 (1007).
    """
    if not payload:
        return CloseCode.NO_STATUS_RCVD, ""
    if len(payload) == 1:
        raise RemoteProtocolError("close frame payload of 1 byte")
    (code,) = _unpack_16(payload)
    if not is_sendable_close_code(code):
        raise RemoteProtocolError(f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("close reason is not valid UTF-8", 1007) from None
    return code, reason


def serialize_close_payload(code: int | None, reason: str = "") -> bytes:
    """Encode a close frame's payload; ``None`` as code means an empty payload.

    Callers validate ``code`` and the reason's length (the codec raises LocalProtocolError).
    """
    if code is None:
        return b""
    return code.to_bytes(2, "big") + reason.encode("utf-8")
