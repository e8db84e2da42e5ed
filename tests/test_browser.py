"""Interoperability with a real browser: headless Chromium opens a WebSocket from a page served
by trioproto's own HTTP route, exchanges text and ArrayBuffer messages (compressed, since
Chromium offers permessage-deflate) and closes with a code (RFC 6455, RFC 7692)."""

from __future__ import annotations

import json
import shutil
import tempfile

import pytest
import trio

import trioproto
from helpers import StartServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

PAGE = """<!doctype html>
<html><body><script>
const out = {};
const ws = new WebSocket("ws://127.0.0.1:PORT/ws", ["chat"]);
ws.binaryType = "arraybuffer";
let step = 0;
ws.onopen = () => {
  out.protocol = ws.protocol;
  out.extensions = ws.extensions;
  ws.send("héllo ✓");
};
ws.onmessage = (event) => {
  if (step === 0) {
    out.text = event.data;
    const bytes = new Uint8Array(256);
    for (let i = 0; i < 256; i++) bytes[i] = i;
    ws.send(bytes.buffer);
    step = 1;
  } else {
    const bytes = new Uint8Array(event.data);
    let same = bytes.length === 256;
    for (let i = 0; i < 256; i++) same = same && bytes[i] === i;
    out.binary = same;
    ws.close(4001, "bye");
  }
};
ws.onerror = () => { out.error = true; };
ws.onclose = (event) => {
  out.code = event.code;
  out.clean = event.wasClean;
  fetch("/result?outcome=" + encodeURIComponent(JSON.stringify(out)));
};
</script>
<!-- The page's load event, on which --dump-dom prints and Chromium exits, waits for this
     image; the server answers it only once the page has reported its outcome. -->
<img src="/hold" alt=""></body></html>
"""


async def test_chromium_round_trip(start_server: StartServer) -> None:
    seen: dict[str, object] = {}
    registry = trioproto.Registry()

    @registry.handler("chat")
    async def chat(ws: trioproto.WebSocket) -> None:
        seen["subprotocol"] = ws.subprotocol
        seen["offer"] = ws.request.headers.get("Sec-WebSocket-Extensions")
        received: list[str | bytes] = []
        try:
            async for message in ws.inbound:
                received.append(message)
                await ws.send(message)
        except trioproto.ConnectionClosed as closed:
            seen["close"] = (closed.code, closed.reason)
        seen["received"] = received

    router = trioproto.Router()
    router.websocket("/ws", registry)
    server = await start_server(router)

    @router.get("/")
    async def page(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        return trioproto.HttpResponse.html(PAGE.replace("PORT", str(server.port)))

    reported = trio.Event()
    outcomes: list[dict[str, object]] = []

    # The page reports its outcome with a request of its own once the socket has closed.
    @router.get("/result")
    async def result(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        outcomes.append(json.loads(request.query["outcome"][0]))
        reported.set()
        return trioproto.HttpResponse.text("ok")

    @router.get("/hold")
    async def hold(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        await reported.wait()
        return trioproto.HttpResponse.text("done")

    dom = await _dump_dom(f"http://127.0.0.1:{server.port}/")
    assert outcomes, f"the page never reported; its DOM: {dom[-2000:]}"
    [outcome] = outcomes
    assert outcome == {
        "protocol": "chat",
        "extensions": outcome["extensions"],
        "text": "héllo ✓",
        "binary": True,
        "code": 4001,
        "clean": True,
    }
    # Chromium offers permessage-deflate and the server accepted it.
    assert "permessage-deflate" in str(seen["offer"])
    assert outcome["extensions"].startswith("permessage-deflate")
    assert seen["subprotocol"] == "chat"
    assert seen["received"] == ["héllo ✓", bytes(range(256))]
    assert seen["close"] == (4001, "bye")


async def _dump_dom(url: str) -> str:
    """Load ``url`` in headless Chromium and return the DOM it prints when it exits."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile, trio.fail_after(60):
        result = await trio.run_process(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--dump-dom",
                url,
            ],
            capture_stdout=True,
            capture_stderr=True,
        )
    return result.stdout.decode()
