"""A message framed once for many connections (the fan-out's "framed once" rule).

A server frame is the same bytes for every connection that receives it the same way (server
frames are never masked, RFC 6455 §5.1), so a message published to N connections is serialised
once per *wire form* and the one immutable ``bytes`` object is queued or written N times:

* uncompressed (RSV1 clear): for connections without permessage-deflate, for messages shorter
  than a connection's ``min_size``, and for connections whose compressor keeps its context
  between messages. RFC 7692 §6 lets an endpoint send any message uncompressed, and an
  uncompressed message leaves both compression contexts untouched, so the connection's own
  compressed sends stay valid around it;
* compressed once per :attr:`PerMessageDeflate.shared_settings` (window bits, level, memLevel):
  for connections that negotiated ``server_no_context_takeover``, where every message is
  compressed on its own and equal settings give equal bytes.

Compressing for each context-takeover connection separately would cost one deflate per
connection per message; docs/topics/compression.md has the measurement behind the choice.
"""

from __future__ import annotations

from ._sansio._codec import MessageCompressor
from ._sansio._deflate import CompressionSettings, PerMessageDeflate, compress_alone
from ._sansio._frames import Opcode, serialize_frame

__all__ = ["PreparedMessage"]


class PreparedMessage:
    """One hub message and its wire forms, built on first use and then shared.

    Args:
        payload: the message payload (UTF-8 for text).
        text: whether it is a text message (else binary).
    """

    __slots__ = ("_compressed", "_plain", "payload", "text")

    def __init__(self, payload: bytes, text: bool) -> None:
        self.payload = payload
        self.text = text
        self._plain: bytes | None = None
        self._compressed: dict[CompressionSettings, bytes] = {}

    @classmethod
    def of(cls, message: str | bytes | bytearray | memoryview) -> PreparedMessage:
        """``str`` becomes a text message, anything bytes-like a binary one (RFC 6455 §5.6)."""
        if isinstance(message, str):
            return cls(message.encode("utf-8"), True)
        if isinstance(message, bytes | bytearray | memoryview):
            return cls(bytes(message), False)
        raise TypeError(f"a message is str or bytes-like, not {type(message).__name__}")

    @property
    def opcode(self) -> int:
        """TEXT or BINARY."""
        return int(Opcode.TEXT if self.text else Opcode.BINARY)

    def frame_for(self, compression: MessageCompressor | None) -> bytes:
        """The frame to send on a server connection that negotiated ``compression``."""
        if type(compression) is PerMessageDeflate:
            settings = compression.shared_settings
            if settings is not None and compression.should_compress(len(self.payload)):
                frame = self._compressed.get(settings)
                if frame is None:
                    deflated = compress_alone(self.payload, settings)
                    frame = serialize_frame(self.opcode, deflated, rsv1=True)
                    self._compressed[settings] = frame
                return frame
        plain = self._plain
        if plain is None:
            plain = self._plain = serialize_frame(self.opcode, self.payload)
        return plain
