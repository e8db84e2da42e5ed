"""Tests for trioproto._tls_handshake over real socket pairs, with trustme certificates: both
ends agree (version, ALPN), one run shared by the tasks that ask, failures that break the
stream after telling the peer why, and a cancelled handshake that carries on later."""

from __future__ import annotations

import ssl

import pytest
import trio
import trio.testing
import trustme

from helpers import transport_pair
from trioproto._ciphertext_pump import CiphertextPump
from trioproto._tls_handshake import TLSHandshake


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def server_context(authority: trustme.CA, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    context.set_alpn_protocols(alpn or ["http/1.1"])
    return context


def client_context(authority: trustme.CA | None, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if authority is not None:
        authority.configure_trust(context)
    context.set_alpn_protocols(alpn or ["http/1.1"])
    return context


class End:
    """One end: an SSLObject on the BIOs of a pump over one side of a socket pair."""

    def __init__(self, pump: CiphertextPump, context: ssl.SSLContext, server: bool) -> None:
        self.pump = pump
        self.tls = context.wrap_bio(
            pump.incoming,
            pump.outgoing,
            server_side=server,
            server_hostname=None if server else "localhost",
        )
        self.handshake = TLSHandshake(self.tls, pump)


def ends(server: ssl.SSLContext, client: ssl.SSLContext) -> tuple[End, End]:
    left, right = transport_pair()
    return End(CiphertextPump(left), server, True), End(CiphertextPump(right), client, False)


async def both(server: End, client: End) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handshake.run)
        nursery.start_soon(client.handshake.run)


async def test_both_ends_agree_on_version_and_alpn(authority: trustme.CA) -> None:
    server, client = ends(server_context(authority), client_context(authority))
    assert not server.handshake.done and not client.handshake.done
    with trio.fail_after(10):
        await both(server, client)
    assert server.handshake.done and client.handshake.done
    assert server.tls.version() == client.tls.version() == "TLSv1.3"
    assert server.tls.selected_alpn_protocol() == client.tls.selected_alpn_protocol()
    assert client.tls.selected_alpn_protocol() == "http/1.1"
    server.pump.close()
    client.pump.close()


async def test_no_alpn_protocol_in_common_is_not_a_failure(authority: trustme.CA) -> None:
    server, client = ends(server_context(authority), client_context(authority, ["h2"]))
    with trio.fail_after(10):
        await both(server, client)
    assert server.handshake.done and client.handshake.done
    assert server.tls.selected_alpn_protocol() is None
    assert client.tls.selected_alpn_protocol() is None
    server.pump.close()
    client.pump.close()


async def test_tasks_arriving_during_the_handshake_wait_for_its_outcome(
    authority: trustme.CA,
) -> None:
    server, client = ends(server_context(authority), client_context(authority))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.handshake.run)
            await trio.testing.wait_all_tasks_blocked()  # it waits for the client's hello
            nursery.start_soon(server.handshake.run)  # a second task: it waits, runs nothing
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(client.handshake.run)
    assert server.handshake.done
    await server.handshake.run()  # done already: it returns at once
    server.pump.close()
    client.pump.close()


async def test_an_untrusted_certificate_fails_both_ends_and_tells_the_server_why(
    authority: trustme.CA,
) -> None:
    stranger = client_context(None)  # system CAs only: not the trustme authority
    server, client = ends(server_context(authority), stranger)
    failures: dict[str, str] = {}

    async def run(name: str, end: End) -> None:
        with pytest.raises(trio.BrokenResourceError) as caught:
            await end.handshake.run()
        failures[name] = str(caught.value)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "client", client)
            await trio.testing.wait_all_tasks_blocked()  # its hello is out, it waits
            nursery.start_soon(run, "second task", client)  # waits for the first one's outcome
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(run, "server", server)
    assert "CERTIFICATE_VERIFY_FAILED" in failures["client"]
    assert failures["second task"] == "the TLS connection is broken"  # not run twice
    assert "UNKNOWN_CA" in failures["server"]  # the client's alert reached the server
    assert client.pump.broken and server.pump.broken
    assert not client.handshake.done
    server.pump.close()
    client.pump.close()


async def test_a_plaintext_peer_or_an_end_of_stream_breaks_it(authority: trustme.CA) -> None:
    for peer_sends, reason in ((b"GET / HTTP/1.1\r\n\r\n", "TLS error"), (b"", "close_notify")):
        left, right = transport_pair()
        server = End(CiphertextPump(left), server_context(authority), True)
        if peer_sends:
            await right.send_all(peer_sends)
        else:
            await right.send_eof()
        with trio.fail_after(10), pytest.raises(trio.BrokenResourceError, match=reason):
            await server.handshake.run()
        assert server.pump.broken and not server.handshake.done
        server.pump.close()
        await right.aclose()


async def test_a_cancelled_handshake_carries_on_later(authority: trustme.CA) -> None:
    """The task running it is cancelled while it waits for the server: a task waiting for its
    outcome learns that it did not finish, and a later run completes it."""
    server, client = ends(server_context(authority), client_context(authority))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            running = trio.CancelScope()

            async def run_until_cancelled() -> None:
                with running:
                    await client.handshake.run()

            nursery.start_soon(run_until_cancelled)
            await trio.testing.wait_all_tasks_blocked()  # its hello is out; no server yet
            waiter_told = trio.Event()

            async def wait_for_it() -> None:
                with pytest.raises(trio.BrokenResourceError, match="failed in another task"):
                    await client.handshake.run()
                waiter_told.set()

            nursery.start_soon(wait_for_it)
            await trio.testing.wait_all_tasks_blocked()
            running.cancel()
    assert waiter_told.is_set()
    assert running.cancelled_caught and not client.handshake.done
    assert not client.pump.broken  # nothing was lost: the handshake goes on from there
    with trio.fail_after(10):
        await both(server, client)
    assert server.handshake.done and client.handshake.done
    server.pump.close()
    client.pump.close()
