"""Helpers for the codec tests: frames built by hand and read back, and split-invariant feeding.

Frames are built with :func:`frame`, an independent transcription of RFC 6455 §5.2 (not the
module's serialiser), and the codec's output is read back with :func:`read_frames`. Every
receive table goes through :func:`feed_every_way`: the same bytes fed whole, in every 2-piece
split and one byte at a time must give identical events, identical output and the same final
state, since TCP may cut a stream anywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from trioproto._config import Limits
from trioproto._sansio._codec import Codec, Role, State
from trioproto._sansio._events import (
    Event,
)

MASK = bytes.fromhex("37fa213d")  # RFC 6455 §5.7

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10


def xor_mask(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 §5.3, byte by byte."""
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = MASK,
    length: int | None = None,
) -> bytes:
    """Build a frame by hand (RFC 6455 §5.2); ``length`` overrides the header's length field."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        header = bytes([first, mask_bit | size])
    elif size < 1 << 16:
        header = bytes([first, mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + size.to_bytes(8, "big")
    if mask is None:
        return header + payload
    return header + mask + xor_mask(payload, mask)


def server_frame(opcode: int, payload: bytes = b"", **options: object) -> bytes:
    """A frame as a server sends it: unmasked (RFC 6455 §5.1)."""
    return frame(opcode, payload, mask=None, **options)  # type: ignore[arg-type]


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


@dataclasses.dataclass(frozen=True)
class WireFrame:
    first: int
    payload: bytes
    mask: bytes | None

    @property
    def opcode(self) -> int:
        return self.first & 0x0F

    def summary(self) -> tuple[int, bytes | int | None]:
        """(opcode, payload); close frames as (CLOSE, code or None) since reasons vary."""
        if self.opcode == CLOSE:
            code = int.from_bytes(self.payload[:2], "big") if self.payload else None
            return (CLOSE, code)
        return (self.opcode, self.payload)


def read_frames(data: bytes) -> list[WireFrame]:
    """Parse a complete byte string of frames (RFC 6455 §5.2), unmasking payloads."""
    frames = []
    position = 0
    while position < len(data):
        first, second = data[position], data[position + 1]
        position += 2
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(data[position : position + 2], "big")
            position += 2
        elif length == 127:
            length = int.from_bytes(data[position : position + 8], "big")
            position += 8
        mask = None
        if second & 0x80:
            mask = data[position : position + 4]
            position += 4
        payload = data[position : position + length]
        assert len(payload) == length, "truncated frame in the output"
        position += length
        frames.append(WireFrame(first, xor_mask(payload, mask) if mask else payload, mask))
    return frames


def fixed_mask(size: int) -> bytes:
    assert size == 4
    return MASK


def _limit_options(options: dict[str, object]) -> dict[str, object]:
    """``limits=Limits(...)`` becomes the two ints the codec takes, as the trio layer does."""
    limits = options.pop("limits", None)
    if isinstance(limits, Limits):
        options["max_message_size"] = limits.max_message_size
        options["max_frame_size"] = limits.effective_max_frame_size
    return options


def server(**options: object) -> Codec:
    return Codec(Role.SERVER, **_limit_options(options))  # type: ignore[arg-type]


def client(**options: object) -> Codec:
    return Codec(Role.CLIENT, mask_source=fixed_mask, **_limit_options(options))  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Outcome:
    events: list[Event]
    output: bytes
    state: State
    failure: int | None

    def summary(self) -> list[tuple[int, bytes | int | None]]:
        return [f.summary() for f in read_frames(self.output)]


def feed(codec: Codec, chunks: list[bytes], *, caller_fails: bool = True) -> Outcome:
    """Feed ``chunks`` as the trio layer does: take the events after each, and (unless told
    not to) fail the connection for a recorded violation once they are taken."""
    events: list[Event] = []
    for chunk in chunks:
        codec.receive_data(chunk)
        events += codec.events()
        if caller_fails and codec.state is State.FAILING:
            codec.fail_for_violation()
    failure = codec.failure.close_code if codec.failure is not None else None
    return Outcome(events, codec.data_to_send(), codec.state, failure)


def feed_every_way(make: Callable[[], Codec], data: bytes, *, caller_fails: bool = True) -> Outcome:
    """Feed ``data`` whole, in every 2-piece split, and one byte at a time (RFC 6455 §5.2:
    frames may be cut anywhere by the transport); all must agree. Returns the outcome."""
    reference = feed(make(), [data], caller_fails=caller_fails)
    for cut in range(1, len(data)):
        split = feed(make(), [data[:cut], data[cut:]], caller_fails=caller_fails)
        assert split == reference, f"split at {cut}"
    trickle = [data[i : i + 1] for i in range(len(data))]
    assert feed(make(), trickle, caller_fails=caller_fails) == reference, "one byte at a time"
    return reference


def check_output_masking(outcome: Outcome, role: Role) -> None:
    """RFC 6455 §5.1: a client masks every frame, a server none."""
    for wire in read_frames(outcome.output):
        assert wire.mask == (MASK if role is Role.CLIENT else None)
