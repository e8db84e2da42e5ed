"""The error a closed connection raises; also a :class:`trio.BrokenResourceError`.

trio code that handles broken streams (``except trio.BrokenResourceError``) handles a broken
WebSocket connection the same way, and the close codes are there for code that cares.
"""

from __future__ import annotations

import trio

from ._exceptions import TrioprotoError

__all__ = ["ConnectionClosed", "end_of_inbound"]

# Codes after which a receive loop ends quietly (trio.EndOfChannel) rather than with an error:
# the peer closed on purpose (RFC 6455 §7.4.1: 1000 normal, 1001 going away, 1005 no code).
CLEAN_CLOSE_CODES = frozenset({1000, 1001, 1005})


class ConnectionClosed(TrioprotoError, trio.BrokenResourceError):
    """The WebSocket connection is closed, so the operation cannot proceed.

    Attributes:
        code: the close code that describes the end: the peer's when it sent one, else ours
            when we failed the connection, else 1006 (RFC 6455 §7.1.5: closed abnormally).
        reason: the matching close reason.
        sent: the close frame we sent as ``(code, reason)``, if any (code ``None`` = empty).
        received: the close frame the peer sent as ``(code, reason)``, if any.
    """

    def __init__(
        self,
        sent: tuple[int | None, str] | None,
        received: tuple[int, str] | None,
    ) -> None:
        self.sent = sent
        self.received = received
        if received is not None:
            self.code, self.reason = received
        elif sent is not None and sent[0] is not None:
            self.code, self.reason = sent[0], sent[1]
        else:
            self.code, self.reason = 1006, ""
        super().__init__(f"WebSocket connection closed: {self.code} {self.reason}".rstrip())

    @property
    def clean(self) -> bool:
        """Whether both close frames were exchanged and the code means a normal end."""
        return (
            self.sent is not None
            and self.received is not None
            and self.received[0] in CLEAN_CLOSE_CODES
        )


def end_of_inbound(
    sent: tuple[int | None, str] | None, received: tuple[int, str] | None
) -> BaseException:
    """What a receive raises once a connection ended: :class:`trio.EndOfChannel` after the
    peer closed on purpose, else :class:`ConnectionClosed`."""
    if received is not None and received[0] in CLEAN_CLOSE_CODES:
        return trio.EndOfChannel()
    return ConnectionClosed(sent, received)
