"""Limits and timeouts, as frozen dataclasses with defaults and their precedents.

Pure Python (layer 0). Every limit is bounded by default; ``None`` disables one explicitly.
Limits are always passed as arguments, never read from the environment (design rule 4 in
docs/topics/design.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUTS",
    "Limits",
    "Timeouts",
    "seconds_or_forever",
]

# Precedents for the defaults below:
# - max message 1 MiB: websockets (max_size=2**20); websocket.zig uses 64 KiB, uWebSockets 16 KiB,
#   wsproto has none (it inflates without a cap, which design rule 4 rules out).
# - max frame = max message: a single frame can never be larger than the message it carries.
# - inbound queue 16 messages: websockets' max_queue=16.
# - request head 16 KiB / 100 header lines: h11's max_incomplete_event_size is 16 KiB; nginx's
#   large_client_header_buffers is 4 x 8 KiB; Go's net/http allows 1 MiB, which is lavish.
#   100 header lines matches http.client's _MAXHEADERS.
# - send buffer 1 MiB (hub messages queued for one slow client): Centrifugo's ClientQueueMaxSize;
#   uWebSockets' maxBackpressure is 64 KiB, Redis drops a pub/sub client at 8 MiB over 60 s.
# - HTTP request body 1 MiB: nginx's client_max_body_size is 1m; h11 and Starlette set none.
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits, enforced before anything is allocated for the data they bound.

    Attributes:
        max_message_size: largest message accepted, in bytes (after decompression, RFC 7692).
            Larger ones fail the connection with 1009 as soon as the frame header shows it.
        max_frame_size: largest single frame payload, in bytes; defaults to the message limit.
        max_queued_messages: whole messages buffered for a handler before the connection stops
            reading the socket (backpressure).
        max_request_head_size: bytes of HTTP request line plus headers (431 when exceeded).
        max_header_lines: number of header lines in the handshake request (431 when exceeded).
        max_request_line_size: bytes of a single line of the HTTP head (414/431 when exceeded).
        max_connections: connections served at once; further clients wait in the listen backlog.
        max_send_buffer: bytes of hub messages (publish, broadcast, send_to) queued for one
            connection that reads slower than they come; past it the backpressure policy
            decides (close with 1013 by default). ``None``: unbounded.
        max_http_body_size: bytes of request body an HTTP route accepts (``Content-Length``);
            a larger declared body is answered 413 before any of it is read.
    """

    max_message_size: int | None = 1 * MiB
    max_frame_size: int | None = None
    max_queued_messages: int = 16
    max_request_head_size: int = 16 * 1024
    max_header_lines: int = 100
    max_request_line_size: int = 8 * 1024
    max_connections: int | None = None
    max_send_buffer: int | None = 1 * MiB
    max_http_body_size: int | None = 1 * MiB

    def __post_init__(self) -> None:
        for name in (
            "max_message_size",
            "max_frame_size",
            "max_connections",
            "max_send_buffer",
            "max_http_body_size",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive or None, not {value!r}")
        for name in (
            "max_queued_messages",
            "max_request_head_size",
            "max_header_lines",
            "max_request_line_size",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"{name} must be a positive int (None is not allowed), not {value!r}"
                )

    @property
    def effective_max_frame_size(self) -> int | None:
        """The frame limit actually enforced: ``max_frame_size``, else the message limit."""
        if self.max_frame_size is not None:
            return self.max_frame_size
        return self.max_message_size


# Precedents for the timeouts:
# - handshake 10 s (TLS included): websockets' open_timeout=10.
# - close 10 s: websockets' close_timeout=10.
# - keepalive ping every 20 s, 20 s to answer: websockets' ping_interval=ping_timeout=20.
# - activation 30 s: how long a delayed-activation handler may keep frames unread.
# - shutdown 2 s: uvicorn and hypercorn give a few seconds of grace; a handler whose
#   connection is already closed has nothing left to wait for.


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Time limits in seconds; ``None`` disables one explicitly.

    Attributes:
        handshake: from accepting the TCP connection to sending the 101 (TLS included). A
            request already whole when its connection starts, answered without waiting for
            anything, is never timed (there is nothing to bound).
        close: how long to wait for the peer's close frame (and, for a client, TCP close)
            after sending ours (RFC 6455 §7.1.1).
        ping_interval: send a keepalive ping after this long; ``None`` turns keepalive off.
        ping_timeout: fail with 1011 if the keepalive pong does not come within this.
        activation: how long a delayed-activation connection may wait for ``activate()``.
        shutdown: when a server shuts down, how long its handlers may keep running once their
            connections are closed before they are cancelled (``aclose()``: after the closing
            handshakes, each bounded by ``close``); and when ``serve()`` is cancelled, the
            whole grace for closing every connection with 1001 and letting the handlers end.
    """

    handshake: float | None = 10.0
    close: float | None = 10.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    activation: float | None = 30.0
    shutdown: float | None = 2.0

    def __post_init__(self) -> None:
        for name in (
            "handshake",
            "close",
            "ping_interval",
            "ping_timeout",
            "activation",
            "shutdown",
        ):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None, not {value!r}")


DEFAULT_LIMITS = Limits()
DEFAULT_TIMEOUTS = Timeouts()


def seconds_or_forever(timeout: float | None) -> float:
    """A timeout for trio's scopes: ``None`` (no limit) becomes ``math.inf``."""
    return math.inf if timeout is None else timeout
