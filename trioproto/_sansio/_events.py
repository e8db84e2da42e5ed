"""Events the codec produces from received bytes (RFC 6455 §5.4-§5.6).

Each is a frozen, slotted dataclass. Control events offer the reply they call for, as wsproto's
do: ``Ping.response()`` is the pong RFC 6455 §5.5.2 requires.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CloseReceived", "Event", "Message", "MessageFragment", "Ping", "Pong"]


@dataclass(frozen=True, slots=True)
class Message:
    """A complete data message: ``str`` for text, ``bytes`` for binary (RFC 6455 §5.6).

    Text has been validated as UTF-8 and decompressed payloads inflated (RFC 7692).
    """

    data: str | bytes


@dataclass(frozen=True, slots=True)
class MessageFragment:
    """One frame's worth of a data message, when the codec delivers fragments (RFC 6455 §5.4).

    Attributes:
        data: the text (validated so far) or bytes of this piece; code points split across
            frames are carried to the piece where they complete.
        final: the message ends with this piece.
    """

    data: str | bytes
    final: bool


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping frame (RFC 6455 §5.5.2); the codec answers it itself unless told not to."""

    payload: bytes

    def response(self) -> Pong:
        """The pong that answers this ping: "identical Application data" (RFC 6455 §5.5.3)."""
        return Pong(self.payload)


@dataclass(frozen=True, slots=True)
class Pong:
    """A pong frame (RFC 6455 §5.5.3): a reply to our ping, or an unsolicited heartbeat."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer's close frame (RFC 6455 §5.5.1).

    Attributes:
        code: the status code, or 1005 when the frame had none (RFC 6455 §7.1.5).
        reason: the UTF-8 reason, possibly empty.
    """

    code: int
    reason: str


Event = Message | MessageFragment | Ping | Pong | CloseReceived
