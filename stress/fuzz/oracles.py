"""Judge one fuzz input against the sans-IO layer: ``None`` when the answer is right, else why.

Rules, for any input whatsoever:

* heads (:class:`~trioproto._sansio._http.RequestHeadParser`, then ``validate_request`` and the
  permessage-deflate negotiation): the only exception allowed is ``InvalidHandshake``, with one
  of the documented statuses (400, 405, 414, 426, 431, 505);
* frames (a server :class:`~trioproto._sansio._codec.Codec`, with and without
  permessage-deflate): no exception at all; a connection failed for a violation sends a close
  frame with the violation's code, one of 1002, 1007 and 1009; no close frame ever carries a
  code that may not be sent (RFC 6455 §7.4.1); nothing follows a close frame;
* both: the outcome is the same whether the input arrives whole or cut in pieces (TCP may
  split it anywhere), and judging it takes under 2 s (a longer one is a hang).
"""

from __future__ import annotations

import itertools
import signal
import types
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from trioproto import DEFAULT_LIMITS, DeflatePolicy, InvalidHandshake
from trioproto._sansio._codec import Codec, Role, State
from trioproto._sansio._deflate import DeflateParameters, PerMessageDeflate, negotiate_server
from trioproto._sansio._events import Event
from trioproto._sansio._frames import is_sendable_close_code
from trioproto._sansio._handshake import validate_request
from trioproto._sansio._http import RequestHeadParser

from ..wire import CLOSE, Frame, parse_frame

__all__ = [
    "ORACLES",
    "FramesOutcome",
    "Hang",
    "HeadOutcome",
    "frames_outcome",
    "head_outcome",
    "judge",
]

HEAD_STATUSES = frozenset({400, 405, 414, 426, 431, 505})
FAILURE_CODES = frozenset({1002, 1007, 1009})
HANG_SECONDS = 2.0


class Hang(Exception):
    """Judging one input took longer than :data:`HANG_SECONDS`."""


def _cuts(data: bytes) -> list[bytes]:
    """The input cut at three points chosen from its own checksum (so replays cut alike)."""
    if len(data) < 4:
        return [data[:1], data[1:]]
    checksum = zlib.crc32(data)
    points = sorted({1 + (checksum >> shift) % (len(data) - 1) for shift in (0, 11, 22)})
    bounds = [0, *points, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


# ------------------------------------------------------------------ request heads


@dataclass(frozen=True)
class HeadOutcome:
    """What the sans-IO layer makes of a request head.

    Attributes:
        verdict: ``"accepted"``, ``"refused"`` or ``"incomplete"`` (waits for more bytes).
        status: the HTTP status of a refusal.
        subprotocols: the subprotocols an accepted request offers.
        details: the rest of an accepted request: path, compression, trailing bytes.
    """

    verdict: str
    status: int | None = None
    subprotocols: tuple[str, ...] = ()
    details: tuple[object, ...] = ()


@dataclass(frozen=True)
class FramesOutcome:
    """What a server codec makes of a frame sequence: events, close codes sent, failure."""

    events: list[Event]
    closes: list[int | None]
    failure: int | None


def head_outcome(pieces: Sequence[bytes]) -> HeadOutcome:
    """Feed a head in ``pieces``, validate it and negotiate compression as the server does.

    Raises:
        AssertionError: a refusal with an undocumented status.
    """
    parser = RequestHeadParser(DEFAULT_LIMITS)
    try:
        for index, piece in enumerate(pieces):
            request = parser.feed(piece)
            if request is not None:
                trailing = parser.trailing_data + b"".join(pieces[index + 1 :])
                break
        else:
            return HeadOutcome("incomplete")
        handshake = validate_request(request)
        negotiated = negotiate_server(handshake.extensions, DeflatePolicy())
    except InvalidHandshake as exc:
        if exc.http_status not in HEAD_STATUSES:
            raise AssertionError(f"undocumented status {exc.http_status}: {exc}") from None
        return HeadOutcome("refused", exc.http_status)
    details = (handshake.path, negotiated, trailing)
    return HeadOutcome("accepted", subprotocols=handshake.subprotocols, details=details)


def check_head(data: bytes) -> str | None:
    whole = head_outcome([data])
    split = head_outcome(_cuts(data))
    if whole != split:
        return f"outcome depends on how the bytes arrive: {whole!r} whole, {split!r} in pieces"
    return None


# ------------------------------------------------------------------ frame sequences


def frames_outcome(pieces: Sequence[bytes], compress: bool) -> FramesOutcome:
    """Feed frames in ``pieces`` to a server codec, as the connection drives it.

    Raises:
        AssertionError: the codec sent something RFC 6455 forbids, or a wrong close code.
    """
    compression = PerMessageDeflate(DeflateParameters(), is_client=False) if compress else None
    codec = Codec(Role.SERVER, compression=compression)
    events: list[Event] = []
    output = bytearray()
    for piece in pieces:
        codec.receive_data(piece)
        events.extend(codec.events())
        while codec.paused:  # after each decompressed message, as the connection does
            codec.receive_data(b"")
            events.extend(codec.events())
        if codec.state is State.FAILING:  # the messages before it were taken: fail now
            codec.fail_for_violation()
        output += codec.data_to_send()
    codec.receive_eof()
    failure = codec.failure
    sent = _frames_sent(bytes(output))
    closes = [frame.close_code for frame in sent if frame.opcode == CLOSE]
    if any(frame.opcode == CLOSE for frame in sent[:-1]):
        raise AssertionError("a frame was sent after the close frame")
    for code in closes:
        if code is not None and code != 1005 and not is_sendable_close_code(code):
            raise AssertionError(f"sent close code {code}, which may not be sent")
    if failure is not None:
        if failure.close_code not in FAILURE_CODES:
            raise AssertionError(f"failed with undocumented code {failure.close_code}")
        if closes != [failure.close_code]:
            raise AssertionError(f"failed with {failure.close_code} but sent closes {closes}")
    return FramesOutcome(events, closes, None if failure is None else failure.close_code)


def _frames_sent(output: bytes) -> list[Frame]:
    frames = []
    buffer = bytearray(output)
    while buffer:
        parsed = parse_frame(buffer)
        if parsed is None:
            raise AssertionError("the codec sent a truncated frame")
        frame, size = parsed
        del buffer[:size]
        frames.append(frame)
    return frames


def _frames_checker(compress: bool) -> Callable[[bytes], str | None]:
    def check(data: bytes) -> str | None:
        whole = frames_outcome([data], compress)
        split = frames_outcome(_cuts(data), compress)
        if whole != split:
            return f"outcome depends on how the bytes arrive: {whole!r} whole, {split!r} in pieces"
        return None

    return check


#: Input kind -> its judge. The kind names the saved files (``frames-<hash>.bin``).
ORACLES: dict[str, Callable[[bytes], str | None]] = {
    "head": check_head,
    "frames": _frames_checker(compress=False),
    "deflate": _frames_checker(compress=True),
}


def _on_alarm(signum: int, frame: types.FrameType | None) -> None:
    raise Hang(f"no answer within {HANG_SECONDS} s")


def judge(kind: str, data: bytes) -> str | None:
    """Run ``kind``'s oracle on ``data``: ``None`` if right, else a one-line reason."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        return ORACLES[kind](data)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def judge_all(kind: str, inputs: Iterator[bytes]) -> Iterator[tuple[bytes, str]]:
    """Yield ``(input, reason)`` for every input the oracle rejects."""
    for data in inputs:
        reason = judge(kind, data)
        if reason is not None:
            yield data, reason
