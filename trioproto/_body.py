"""Reading a plain HTTP request's body for an HTTP route (RFC 9112 §6).

The length comes from :func:`~trioproto._sansio._http.request_body_length`, which has already
refused a body over ``Limits.max_http_body_size``; this reads exactly that many bytes, the
part that arrived with the head first.
"""

from __future__ import annotations

import trio

__all__ = ["discard_unread_body", "receive_body"]

_READ_SIZE = 64 * 1024
#: After refusing a body, read and drop what the client still sends for at most this long and
#: this much (nginx's lingering close: ``lingering_time``, ``lingering_timeout``), so that
#: closing with unread data does not reset the connection before the client reads the answer.
LINGER_SECONDS = 1.0
LINGER_BYTES = 1024 * 1024


async def receive_body(stream: trio.abc.Stream, length: int, received: bytes) -> bytes | None:
    """Read ``length`` body bytes, starting with ``received`` (read along with the head).

    Returns:
        The body, or ``None`` if the client closed the connection before sending all of it.
        Bytes after the body (a pipelined request) are not read: the connection closes after
        the response.
    """
    body = bytearray(received[:length])
    while len(body) < length:
        data = await stream.receive_some(min(_READ_SIZE, length - len(body)))
        if not data:
            return None
        body += data
    return bytes(body)


async def discard_unread_body(stream: trio.abc.Stream) -> None:
    """Half-close, then drop what the client still sends, bounded in time and bytes.

    A TCP close with unread received data sends RST (RFC 9293 §3.6.1), which can destroy a
    refusal (413, 411) before the client has read it; RFC 9112 §9.6 asks servers to close in
    stages for that reason. Errors end the wait quietly: the answer is already sent.
    """
    discarded = 0
    with trio.move_on_after(LINGER_SECONDS):
        try:
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()
            while discarded < LINGER_BYTES:
                data = await stream.receive_some(_READ_SIZE)
                if not data:
                    break
                discarded += len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
