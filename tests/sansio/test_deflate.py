"""Tests for trioproto._sansio._deflate: RFC 7692 negotiation, byte-exact examples, round
trips at every window size, and inflation capped during decompression."""

from __future__ import annotations

import dataclasses
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioproto import InvalidHandshake, PayloadTooBig, RemoteProtocolError
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._deflate import (
    DeflateParameters,
    DeflatePolicy,
    PerMessageDeflate,
    accept_client,
    client_offer,
    negotiate_server,
)
from trioproto._sansio._events import Message

POLICY = DeflatePolicy()


# ------------------------------------------------------------------ RFC 7692 §7.2.3 examples


def _server() -> PerMessageDeflate:
    return PerMessageDeflate(DeflateParameters(), is_client=False)


def test_rfc_7692_7_2_3_1_hello_in_one_frame() -> None:
    assert _server().decompress(bytes.fromhex("f248cdc9c90700"), True, None) == b"Hello"


def test_rfc_7692_7_2_3_1_hello_fragmented() -> None:
    inflater = _server()
    first = inflater.decompress(bytes.fromhex("f248cd"), False, None)
    assert first + inflater.decompress(bytes.fromhex("c9c90700"), True, None) == b"Hello"


def test_rfc_7692_7_2_3_2_sharing_the_lz77_window() -> None:
    """The second "Hello" refers back into the first message (context takeover)."""
    inflater = _server()
    assert inflater.decompress(bytes.fromhex("f248cdc9c90700"), True, None) == b"Hello"
    assert inflater.decompress(bytes.fromhex("f200110000"), True, None) == b"Hello"


def test_rfc_7692_7_2_3_3_stored_block() -> None:
    payload = bytes.fromhex("0005 00fa ff48 656c 6c6f 00".replace(" ", ""))
    assert _server().decompress(payload, True, None) == b"Hello"


def test_rfc_7692_7_2_3_4_bfinal_set() -> None:
    assert _server().decompress(bytes.fromhex("f348cdc9c90700"), True, None) == b"Hello"


def test_rfc_7692_7_2_3_5_two_deflate_blocks() -> None:
    payload = bytes.fromhex("f24805000000ffffcac9c90700")
    assert _server().decompress(payload, True, None) == b"Hello"


def test_rfc_7692_7_2_3_6_empty_message() -> None:
    """ "An empty message ... the single octet 0x00" after removing the tail."""
    compressor = _server()
    assert compressor.compress(b"") == b"\x00"
    assert _server().decompress(b"\x00", True, None) == b""


def test_compress_strips_the_tail() -> None:
    assert _server().compress(b"Hello") == bytes.fromhex("f248cdc9c90700")


# ------------------------------------------------------------------------- negotiation


@pytest.mark.parametrize(
    ("offers", "response", "params"),
    [
        (
            ["permessage-deflate"],
            "permessage-deflate; server_max_window_bits=12",
            DeflateParameters(server_max_window_bits=12, client_max_window_bits=15),
        ),
        (
            ["permessage-deflate; client_max_window_bits"],
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            DeflateParameters(server_max_window_bits=12, client_max_window_bits=12),
        ),
        (
            ["permessage-deflate; client_max_window_bits=10"],
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
            DeflateParameters(server_max_window_bits=12, client_max_window_bits=10),
        ),
        (
            ["permessage-deflate; server_max_window_bits=10"],
            "permessage-deflate; server_max_window_bits=10",
            DeflateParameters(server_max_window_bits=10, client_max_window_bits=15),
        ),
        (
            ["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=12",
            DeflateParameters(True, True, 12, 15),
        ),
        (
            # Invalid offers are declined one by one; the first acceptable one wins.
            [
                "x-unknown, permessage-deflate; server_max_window_bits=8",
                "permessage-deflate; bogus, permessage-deflate; client_max_window_bits=16",
                "permessage-deflate; server_max_window_bits=9",
            ],
            "permessage-deflate; server_max_window_bits=9",
            DeflateParameters(server_max_window_bits=9, client_max_window_bits=15),
        ),
    ],
)
def test_negotiate_server(offers: list[str], response: str, params: DeflateParameters) -> None:
    assert negotiate_server(offers, POLICY) == (response, params)


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=yes",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=x",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; mystery",
        "x-other",
    ],
)
def test_negotiate_server_declines(offer: str) -> None:
    """RFC 7692 §5.1: invalid, repeated or unsupported parameters decline the offer."""
    assert negotiate_server([offer], POLICY) is None


def test_policy_has_no_off_switch() -> None:
    """Off is ``compression=None``, in one place; a policy always means "negotiate"."""
    assert "enabled" not in {field.name for field in dataclasses.fields(DeflatePolicy)}


def test_full_window_policy_answers_without_parameters() -> None:
    policy = DeflatePolicy(server_max_window_bits=15)
    assert negotiate_server(["permessage-deflate"], policy) == (
        "permessage-deflate",
        DeflateParameters(),
    )


def test_malformed_header_is_400() -> None:
    with pytest.raises(InvalidHandshake):
        negotiate_server(["permessage-deflate; a=b c"], POLICY)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="between 9 and 15"):
        DeflatePolicy(server_max_window_bits=8)
    with pytest.raises(ValueError, match="mem_level"):
        DeflatePolicy(mem_level=0)


def test_policy_takeover_settings_are_announced() -> None:
    policy = DeflatePolicy(server_no_context_takeover=True, client_no_context_takeover=True)
    response, params = negotiate_server(["permessage-deflate"], policy) or ("", None)
    assert "server_no_context_takeover" in response
    assert "client_no_context_takeover" in response
    assert params == DeflateParameters(True, True, 12, 15)


def test_client_offer_and_acceptance() -> None:
    offer = client_offer(POLICY)
    assert offer == "permessage-deflate; client_max_window_bits; server_max_window_bits=12"
    response, server_params = negotiate_server([offer], POLICY) or ("", None)
    assert accept_client([response], POLICY) == server_params
    full = DeflatePolicy(
        server_max_window_bits=15, server_no_context_takeover=True, client_no_context_takeover=True
    )
    assert client_offer(full) == (
        "permessage-deflate; client_max_window_bits; client_no_context_takeover; "
        "server_no_context_takeover"
    )


@pytest.mark.parametrize(
    "response",
    [
        "x-other",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=13",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; unknown",
    ],
)
def test_accept_client_rejects(response: str) -> None:
    with pytest.raises(InvalidHandshake):
        accept_client([response], POLICY)


def test_accept_client_requires_requested_server_no_takeover() -> None:
    policy = DeflatePolicy(server_no_context_takeover=True)
    with pytest.raises(InvalidHandshake, match="ignored"):
        accept_client(["permessage-deflate"], policy)
    params = accept_client(["permessage-deflate; server_no_context_takeover"], policy)
    assert params.server_no_context_takeover


# --------------------------------------------------------------------------- round trips


def _pair(params: DeflateParameters) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    return (
        PerMessageDeflate(params, is_client=True, min_size=0),
        PerMessageDeflate(params, is_client=False, min_size=0),
    )


MESSAGES = [b"Hello, hello, hello!" * 20, b"", b"x", bytes(range(256)) * 40, b"Hello" * 3]


@pytest.mark.parametrize("bits", [8, 9, 10, 11, 12, 13, 14, 15])
@pytest.mark.parametrize("takeover", [True, False])
def test_round_trip_every_window(bits: int, takeover: bool) -> None:
    params = DeflateParameters(
        server_no_context_takeover=not takeover,
        client_no_context_takeover=not takeover,
        server_max_window_bits=max(bits, 9),
        client_max_window_bits=bits,
    )
    client, server = _pair(params)
    for message in MESSAGES:
        assert server.decompress(client.compress(message), True, None) == message
        assert client.decompress(server.compress(message), True, None) == message


def test_no_context_takeover_makes_messages_independent() -> None:
    params = DeflateParameters(client_no_context_takeover=True)
    client, _ = _pair(params)
    first = client.compress(b"repeat me " * 10)
    assert client.compress(b"repeat me " * 10) == first  # no shared window: same bytes
    taking_over, _ = _pair(DeflateParameters())
    first = taking_over.compress(b"repeat me " * 10)
    assert len(taking_over.compress(b"repeat me " * 10)) < len(first)


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(st.binary(max_size=2000), min_size=1, max_size=5),
    cut=st.integers(min_value=1, max_value=50),
)
def test_round_trip_any_fragmentation(messages: list[bytes], cut: int) -> None:
    client, server = _pair(DeflateParameters())
    for message in messages:
        compressed = client.compress(message)
        pieces = [compressed[i : i + cut] for i in range(0, len(compressed), cut)] or [b""]
        output = b"".join(server.decompress(p, False, None) for p in pieces[:-1])
        output += server.decompress(pieces[-1], True, None)
        assert output == message


def test_should_compress_threshold() -> None:
    deflate = PerMessageDeflate(DeflateParameters(), is_client=False, min_size=32)
    assert not deflate.should_compress(31)
    assert deflate.should_compress(32)


# ---------------------------------------------------------------------------- limits


def test_limit_exact_and_over() -> None:
    compressed = _server().compress(b"a" * 1000)
    assert _server().decompress(compressed, True, 1000) == b"a" * 1000
    for limit in (999, 998):
        with pytest.raises(PayloadTooBig):
            _server().decompress(compressed, True, limit)


def test_zero_allowance_still_capped() -> None:
    with pytest.raises(PayloadTooBig):
        _server().decompress(_server().compress(b"a"), True, 0)


def test_corrupt_stream_is_1007() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        _server().decompress(b"\xff\xff\xff\xff", True, None)
    assert info.value.close_code == 1007


def test_decompression_bomb_allocates_about_the_limit() -> None:
    """A few KiB of compressed zeros inflating to 1 GiB fail with 1009 while the peak
    allocation stays near the 1 MiB limit (design rule 4: wsproto inflates without a cap)."""
    # After a full flush the compressor's state is reset, so every MiB of zeros compresses to
    # the same independent segment: 1024 copies make a valid 1 GiB stream in about 1 MiB.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    bomb = segment * 1024
    assert len(bomb) < 1_100_000
    inflater = _server()
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooBig):
            inflater.decompress(bomb, True, 1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The output (the limit), zlib's copy of the unconsumed input, and buffer growth: nowhere
    # near the 1 GiB an uncapped inflate would allocate.
    assert peak < 2 * (1 << 20) + len(bomb) + (256 << 10)


def test_codec_caps_bomb_across_frames() -> None:
    """Through the codec: the message limit applies to the inflated size, frame by frame."""
    client_side, server_side = _pair(DeflateParameters())
    server = Codec(
        Role.SERVER,
        max_message_size=10_000,
        max_frame_size=10_000,
        compression=server_side,
    )
    client = Codec(Role.CLIENT, compression=client_side)
    client.send_message(b"\x00" * 20_000)
    server.receive_data(client.data_to_send())
    assert server.events() == []
    assert server.failure is not None
    assert server.failure.close_code == 1009


def test_codec_round_trip_with_compression() -> None:
    client_side, server_side = _pair(DeflateParameters())
    server = Codec(Role.SERVER, compression=server_side)
    client = Codec(Role.CLIENT, compression=client_side)
    for message in ["text " * 50, b"bin" * 100, ""]:
        client.send_message(message)
        server.receive_data(client.data_to_send())
        assert server.events() == [Message(message)]
        server.send_message(message)
        client.receive_data(server.data_to_send())
        assert client.events() == [Message(message)]


@pytest.mark.parametrize("is_client", [True, False])
def test_from_policy_takes_the_policy_zlib_settings(is_client: bool) -> None:
    """Both sides build their compressor the same way from a policy."""
    policy = DeflatePolicy(min_size=100, compress_level=1, mem_level=8)
    parameters = DeflateParameters(client_max_window_bits=10, server_max_window_bits=11)
    built = PerMessageDeflate.from_policy(parameters, policy, is_client=is_client)
    assert built.params is parameters
    assert (built.min_size, built._level, built._mem_level) == (100, 1, 8)
    local_bits = 10 if is_client else 11
    assert built._compress_wbits == -local_bits
    assert not built.should_compress(99) and built.should_compress(100)
