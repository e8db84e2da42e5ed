"""Fuzz inputs sent to the real server, judged against what the sans-IO layer predicts.

A head input is sent on a fresh connection; a frames input after a valid handshake, a deflate
input after one that negotiates permessage-deflate (the full 15-bit client window). The client
then half-closes (FIN) and reads until the server closes. The answer must agree with the
in-process prediction (:mod:`.oracles`):

* a head the parser refuses gets exactly that HTTP status; an acceptable one gets a 101 (or a
  400 when it offers only subprotocols the target does not serve); an incomplete one no answer;
* frames: the echoes received are the messages the codec parsed, in order (some may be
  missing after a close, none may differ), and the close frames are the codec's, code for code;
* the server closes within 3 s of the FIN; anything longer is a hang.
"""

from __future__ import annotations

import trio

from trioproto._sansio._events import Message

from ..wire import BINARY, CLOSE, TEXT, HandshakeFailed, RawClient
from .oracles import HeadOutcome, frames_outcome, head_outcome

__all__ = ["SERVED_SUBPROTOCOLS", "check_over_socket"]

SERVED_SUBPROTOCOLS = frozenset({"echo", "fail", "count"})
_ANSWER_TIMEOUT = 3.0


async def check_over_socket(port: int, kind: str, data: bytes) -> str | None:
    """Judge ``data`` (a ``head``, ``frames`` or ``deflate`` input) against the server on
    ``port``, which must negotiate compression."""
    client = await RawClient.connect(port)
    try:
        compress = kind == "deflate"
        if kind != "head":
            try:
                await client.handshake(compress=compress)
            except HandshakeFailed as exc:
                return f"valid handshake refused: {exc}"
        try:
            await client.send(data)
            await client.stream.send_eof()
        except trio.BrokenResourceError:
            pass  # the server gave up first; its answer may still be readable
        if kind == "head":
            return await _judge_head(client, data)
        return await _judge_frames(client, data, compress)
    finally:
        await client.aclose()


async def _read_all(client: RawClient) -> tuple[bytes, str]:
    with trio.move_on_after(_ANSWER_TIMEOUT):
        try:
            while await client.receive_more():
                pass
        except trio.BrokenResourceError:
            return bytes(client.buffer), "reset"
        return bytes(client.buffer), "eof"
    return bytes(client.buffer), "hang"


async def _judge_head(client: RawClient, data: bytes) -> str | None:
    predicted: HeadOutcome | Exception
    try:
        predicted = head_outcome([data])
    except Exception as exc:
        predicted = exc
    received, ending = await _read_all(client)
    if ending == "hang":
        return f"no answer and no close {_ANSWER_TIMEOUT} s after the FIN"
    status = received[9:12].decode("latin-1") if received.startswith(b"HTTP/1.1 ") else None
    if isinstance(predicted, Exception):
        return (
            f"the sans-IO layer raised {predicted!r}; the server answered {status} (TCP {ending})"
        )
    expected = _expected_status(predicted)
    if status != expected:
        return f"answered {status or 'nothing'} (TCP {ending}), expected {expected or 'nothing'}"
    return None


def _expected_status(predicted: HeadOutcome) -> str | None:
    """The status the target must answer with (``None``: no answer at all)."""
    if predicted.verdict == "incomplete":
        return None
    if predicted.verdict == "refused":
        return str(predicted.status)
    offered = set(predicted.subprotocols)
    return "101" if not offered or offered & SERVED_SUBPROTOCOLS else "400"


async def _judge_frames(client: RawClient, data: bytes, compress: bool) -> str | None:
    if compress and client.compressor is None:
        return "the server did not negotiate permessage-deflate"
    try:
        predicted = frames_outcome([data], compress=compress)
    except Exception as exc:
        frames, ending = await client.receive_until_end(_ANSWER_TIMEOUT)
        return (
            f"the sans-IO layer raised {exc!r}; the server sent {len(frames)} frames (TCP {ending})"
        )
    messages = [
        event.data.encode() if isinstance(event.data, str) else event.data
        for event in predicted.events
        if isinstance(event, Message)
    ]
    frames, ending = await client.receive_until_end(_ANSWER_TIMEOUT)
    if ending == "timeout":
        return f"no close {_ANSWER_TIMEOUT} s after the FIN"
    echoes = [frame.payload for frame in frames if frame.opcode in (TEXT, BINARY)]
    closes = [frame.close_code for frame in frames if frame.opcode == CLOSE]
    if echoes != messages[: len(echoes)]:
        sent = [message[:20] for message in messages]
        return f"echoes {[echo[:20] for echo in echoes]} differ from the messages sent {sent}"
    if closes != predicted.closes:
        return f"close frames {closes} (TCP {ending}), the codec sends {predicted.closes}"
    return None
