"""The codec hands over each decompressed message before inflating the next (RFC 7692: a few
wire bytes may inflate to the message size limit), so a caller bounds decoded bytes by taking
messages only as fast as it can hold them."""

from __future__ import annotations

from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._deflate import DeflateParameters, PerMessageDeflate
from trioproto._sansio._events import Message


def _client_frames(*messages: bytes) -> bytes:
    client = Codec(
        Role.CLIENT,
        compression=PerMessageDeflate(DeflateParameters(), is_client=True, min_size=0),
    )
    for message in messages:
        client.send_message(message)
    return client.data_to_send()


def _server() -> Codec:
    return Codec(Role.SERVER, compression=PerMessageDeflate(DeflateParameters(), is_client=False))


def test_parsing_pauses_after_each_decompressed_message() -> None:
    server = _server()
    server.receive_data(_client_frames(b"a" * 1000, b"b" * 1000, b"c" * 1000))
    assert server.events() == [Message(b"a" * 1000)]
    assert server.paused
    server.receive_data(b"")
    assert server.events() == [Message(b"b" * 1000)]
    server.receive_data(b"")
    assert server.events() == [Message(b"c" * 1000)]
    server.receive_data(b"")  # nothing left: no event, and the caller reads the transport again
    assert server.events() == []
    assert not server.paused


def test_uncompressed_messages_do_not_pause() -> None:
    client = Codec(Role.CLIENT)
    client.send_message(b"x")
    client.send_message(b"y")
    server = Codec(Role.SERVER)
    server.receive_data(client.data_to_send())
    assert server.events() == [Message(b"x"), Message(b"y")]
    assert not server.paused
