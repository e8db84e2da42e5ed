"""Fuzzing the codec: bad input of any kind only ever fails the connection with a close code.

receive_data() never raises; a violation sets ``codec.failure`` (a RemoteProtocolError with
1002, 1007 or 1009), queues a close frame, and the codec is CLOSED (RFC 6455 §7.1.7).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trioproto._sansio._codec import Codec, Role, State
from trioproto._sansio._deflate import DeflateParameters, PerMessageDeflate

ROLE = st.sampled_from([Role.SERVER, Role.CLIENT])

# Frames that look plausible: a real header (any bits, any length form) plus some payload,
# so fuzzing reaches deep states instead of failing on the first byte.
FRAME = st.builds(
    lambda first, masked, length_form, length, payload: (
        bytes([first])
        + (
            bytes([(0x80 if masked else 0) | length])
            if length_form == 0
            else bytes([(0x80 if masked else 0) | 126]) + length.to_bytes(2, "big")
            if length_form == 1
            else bytes([(0x80 if masked else 0) | 127]) + length.to_bytes(8, "big")
        )
        + (b"\x01\x02\x03\x04" if masked else b"")
        + payload
    ),
    st.integers(0, 255),
    st.booleans(),
    st.sampled_from([0, 1, 2]),
    st.integers(0, 125),
    st.binary(max_size=40),
)


def _check(codec: Codec, chunks: list[bytes]) -> None:
    for chunk in chunks:
        codec.receive_data(chunk)  # must never raise
        codec.events()
        if codec.state is State.FAILING:  # what the trio layer does once the events are taken
            codec.fail_for_violation()
        codec.data_to_send()
    if codec.failure is not None:
        assert codec.failure.close_code in (1002, 1007, 1009)
        assert codec.state is State.CLOSED
        assert codec.close_sent is not None or codec.close_received is not None
    else:
        assert codec.state in (State.OPEN, State.CLOSING, State.CLOSED)


@settings(max_examples=300, deadline=None, database=None)
@given(role=ROLE, data=st.binary(max_size=200), cut=st.integers(1, 20))
def test_random_bytes(role: Role, data: bytes, cut: int) -> None:
    codec = Codec(role, max_message_size=100, max_frame_size=100)
    _check(codec, [data[i : i + cut] for i in range(0, len(data), cut)])


@settings(max_examples=300, deadline=None, database=None)
@given(role=ROLE, frames=st.lists(FRAME, max_size=8), cut=st.integers(1, 64))
def test_plausible_frames(role: Role, frames: list[bytes], cut: int) -> None:
    stream = b"".join(frames)
    codec = Codec(role, max_message_size=200, max_frame_size=200)
    _check(codec, [stream[i : i + cut] for i in range(0, len(stream), cut)])


@settings(max_examples=200, deadline=None, database=None)
@given(role=ROLE, frames=st.lists(FRAME, max_size=6))
def test_plausible_frames_with_compression(role: Role, frames: list[bytes]) -> None:
    deflate = PerMessageDeflate(DeflateParameters(), is_client=role is Role.CLIENT)
    codec = Codec(role, max_message_size=500, max_frame_size=500, compression=deflate)
    _check(codec, [b"".join(frames)])


@settings(max_examples=100, deadline=None, database=None)
@given(role=ROLE, length=st.integers(0, 2**63 - 1))
def test_huge_lengths_fail_from_the_header(role: Role, length: int) -> None:
    """A length over the limit fails as soon as the header is complete (1009)."""
    mask_bit = 0x80 if role is Role.SERVER else 0
    header = bytes([0x82, mask_bit | 127]) + length.to_bytes(8, "big")
    header += b"\x00\x00\x00\x00" if mask_bit else b""
    codec = Codec(role, max_message_size=1000, max_frame_size=1000)
    codec.receive_data(header)
    if length > 1000:
        assert codec.failure is not None
        assert codec.failure.close_code == 1009
    else:
        assert codec.failure is None
