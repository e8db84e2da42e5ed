"""Events the codec produces from received bytes (RFC 6455 §5.4-§5.6).

Each is a frozen, slotted dataclass. The codec answers pings itself (RFC 6455 §5.5.2) unless
told not to.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CloseReceived", "Event", "Message", "Ping", "Pong"]


@dataclass(frozen=True, slots=True)
class Message:
    """A complete data message: ``str`` for text, ``bytes`` for binary (RFC 6455 §5.6).

    Text has been validated as UTF-8 and decompressed payloads inflated (RFC 7692).
    """

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping frame (RFC 6455 §5.5.2); the codec answers it itself unless told not to."""

    payload: bytes


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


Event = Message | Ping | Pong | CloseReceived
