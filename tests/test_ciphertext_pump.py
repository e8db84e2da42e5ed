"""Tests for trioproto._ciphertext_pump over real socket pairs: what fits in the socket now and
what waits, one writer at a time, nothing lost when cancelled, the end of the stream and a
reset handed to OpenSSL's incoming BIO, broken and closed states. The pump moves bytes and
never parses them, so most tests put plain bytes in the outgoing BIO."""

from __future__ import annotations

import ssl

import pytest
import trio
import trio.testing

from helpers import transport_pair
from trioproto._ciphertext_pump import CiphertextPump
from trioproto._transport import SocketTransport

BIG = bytes(range(256)) * (16 * 1024)  # 4 MiB, more than a socket pair buffers


def pump_pair() -> tuple[CiphertextPump, SocketTransport]:
    left, right = transport_pair()
    return CiphertextPump(left), right


async def read_exactly(stream: SocketTransport, count: int) -> bytes:
    received = bytearray()
    while len(received) < count:
        received += await stream.receive_some()
    return bytes(received)


async def test_write_what_fits_writes_the_bio_and_never_waits() -> None:
    pump, peer = pump_pair()
    assert not pump.pending
    pump.outgoing.write(b"record one|")
    pump.outgoing.write(b"record two")
    assert pump.pending
    with trio.testing.assert_no_checkpoints():
        assert pump.write_what_fits()
    assert not pump.pending
    assert await read_exactly(peer, 21) == b"record one|record two"
    pump.close()
    await peer.aclose()


async def test_a_full_socket_keeps_the_rest_for_later_in_order() -> None:
    pump, peer = pump_pair()
    pump.outgoing.write(BIG)
    with trio.testing.assert_no_checkpoints():
        assert not pump.write_what_fits()  # the socket is full: the rest is kept
    assert pump.pending and not pump.outgoing.pending  # out of the BIO, not yet written
    pump.outgoing.write(b"after")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump.flush)
        assert await read_exactly(peer, len(BIG) + 5) == BIG + b"after"
    assert not pump.pending and not pump.writing
    pump.close()
    await peer.aclose()


async def test_flush_says_whether_it_waited() -> None:
    pump, peer = pump_pair()
    pump.outgoing.write(b"small")
    assert await pump.flush() is False  # it fit: no schedule point needed
    pump.outgoing.write(BIG)
    async with trio.open_nursery() as nursery:

        async def flush() -> None:
            assert await pump.flush() is True

        nursery.start_soon(flush)
        assert await read_exactly(peer, 5 + len(BIG)) == b"small" + BIG
    pump.close()
    await peer.aclose()


async def test_a_cancelled_flush_loses_nothing() -> None:
    pump, peer = pump_pair()
    pump.outgoing.write(BIG)
    with trio.move_on_after(0.05) as scope:
        await pump.flush()  # nobody reads: it waits for the socket until cancelled
    assert scope.cancelled_caught
    assert pump.pending and not pump.writing  # the lock is free again
    pump.outgoing.write(b"next")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump.flush)
        assert await read_exactly(peer, len(BIG) + 4) == BIG + b"next"
    pump.close()
    await peer.aclose()


async def test_one_task_writes_at_a_time_and_hands_over_in_order() -> None:
    pump, peer = pump_pair()
    pump.outgoing.write(BIG)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump.flush)  # waits for the socket, holding the duty
        await trio.testing.wait_all_tasks_blocked()
        assert pump.writing
        pump.outgoing.write(b"second")
        second_done = trio.Event()

        async def second() -> None:
            assert await pump.flush() is True  # parked until the first one hands over
            second_done.set()

        nursery.start_soon(second)
        await trio.testing.wait_all_tasks_blocked()
        assert not second_done.is_set()
        assert await read_exactly(peer, len(BIG) + 6) == BIG + b"second"
    assert second_done.is_set() and not pump.writing
    pump.close()
    await peer.aclose()


async def test_receive_moves_ciphertext_and_the_end_into_the_incoming_bio() -> None:
    pump, peer = pump_pair()
    await peer.send_all(b"\x17\x03\x03 some record bytes")
    await pump.receive()
    assert pump.incoming.read() == b"\x17\x03\x03 some record bytes"
    assert not pump.incoming.eof
    await peer.send_eof()
    await pump.receive()
    assert pump.incoming.eof  # OpenSSL reads it as close_notify missing, or not
    pump.close()
    await peer.aclose()


async def test_a_cancelled_receive_consumes_nothing() -> None:
    pump, peer = pump_pair()
    with trio.move_on_after(0.01):
        await pump.receive()
    await peer.send_all(b"late")
    await pump.receive()
    assert pump.incoming.read() == b"late"
    pump.close()
    await peer.aclose()


async def test_a_reset_breaks_the_pump_for_good() -> None:
    pump, peer = pump_pair()
    pump.outgoing.write(b"never read")
    assert pump.write_what_fits()
    peer.close()  # closed with unread data: a Unix socket reports a reset (ECONNRESET)
    with pytest.raises(trio.BrokenResourceError):
        await pump.receive()
    assert pump.broken
    pump.outgoing.write(b"never sent")
    with pytest.raises(trio.BrokenResourceError, match="broken"):
        pump.write_what_fits()
    pump.close()


async def test_fail_names_a_truncation_or_the_tls_error() -> None:
    pump, peer = pump_pair()
    truncated = pump.fail(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
    assert "without close_notify" in str(truncated)
    assert pump.broken
    error = ssl.SSLError(1, "bad record")
    error.reason = "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"
    assert str(pump.fail(error)) == "TLS error: DECRYPTION_FAILED_OR_BAD_RECORD_MAC"
    with pytest.raises(trio.BrokenResourceError):
        pump.check_usable()
    pump.close()
    peer.close()


async def test_after_close_nothing_touches_the_socket() -> None:
    pump, peer = pump_pair()
    pump.close()
    assert pump.closed
    with pytest.raises(trio.ClosedResourceError):
        pump.check_usable()
    pump.outgoing.write(b"too late")
    with pytest.raises(trio.ClosedResourceError):
        pump.write_what_fits()
    with pytest.raises(trio.ClosedResourceError):
        await pump.receive()
    assert await peer.receive_some() == b""  # the socket is closed: the peer sees the end
    await peer.aclose()
