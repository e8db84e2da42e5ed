"""stress.process and stress.wire against a real target server process."""

from __future__ import annotations

import trio

from stress.process import start_target
from stress.wire import CLOSE, RawClient, close_payload, encode_frame


async def test_target_echoes_measures_and_stops_on_sigterm() -> None:
    with trio.fail_after(30):
        async with start_target(close_timeout=2.0) as server:
            assert server.rss() > 1_000_000
            client = await RawClient.connect(server.port)
            await client.handshake(compress=True)
            await client.send_message("hello " * 20)
            assert await client.receive_message() == "hello " * 20
            server.terminate()
            frames, ending = await client.receive_until_end(10.0)
            await client.aclose()
            assert [frame.close_code for frame in frames] == [1001]
            assert ending == "eof"
            assert await server.process.wait() == 0
            assert server.crashes() == []


async def test_count_handler_reports_its_echoes() -> None:
    with trio.fail_after(30):
        async with start_target(compression=False) as server:
            client = await RawClient.connect(server.port)
            await client.handshake(path="/?client=7", subprotocol="count")
            for index in range(3):
                await client.send_message(str(index))
                assert await client.receive_message() == str(index)
            await client.send(encode_frame(CLOSE, close_payload(1000)))
            client.close_sent = True
            await client.receive_until_end(5.0)
            await client.aclose()
            with trio.fail_after(5):
                await server.wait_for_line("echoed 7 3")


async def test_fail_handler_closes_with_1011() -> None:
    with trio.fail_after(30):
        async with start_target() as server:
            client = await RawClient.connect(server.port)
            await client.handshake(subprotocol="fail")
            await client.send_message("fail now")
            frames, _ending = await client.receive_until_end(5.0)
            await client.aclose()
            assert [frame.close_code for frame in frames] == [1011]
            await trio.sleep(0.2)
            assert server.count_in_log("handler raised") == 1
