"""examples/dashboard.py in headless Chromium: the page's figures and chart follow real traffic.

Chromium is driven over its DevTools protocol, itself a WebSocket, with trioproto's own client.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

import trioproto
from helpers import StartServer, ws_url

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

#: Counts the canvas pixels drawn in the two line colours (blue: in, orange: out).
COUNT_LINE_PIXELS = """(() => {
  const canvas = document.getElementById("chart");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let blue = 0, orange = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 200 && b > 180 && r < 100) blue++;
    if (a > 200 && r > 200 && b < 100 && g > 90 && g < 150) orange++;
  }
  return {blue, orange};
})()"""

READ_FIGURES = """({
  status: document.getElementById("status").textContent,
  open: Number(document.getElementById("open-connections").textContent),
  total: Number(document.getElementById("total-connections").textContent),
  rateIn: Number(document.getElementById("rate-in").textContent),
  rateOut: Number(document.getElementById("rate-out").textContent),
  messagesIn: Number(document.getElementById("messages-in").textContent),
  samples: Number(document.body.dataset.samples || 0),
})"""


class DevTools:
    """One page of a headless Chromium, driven over the DevTools protocol."""

    def __init__(self, browser: trioproto.WebSocket, session: str) -> None:
        self._browser = browser
        self._session = session
        self._next_id = 100

    @staticmethod
    async def command(
        ws: trioproto.WebSocket, id: int, method: str, session: str | None = None, **params: Any
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"id": id, "method": method, "params": params}
        if session is not None:
            request["sessionId"] = session
        await ws.send(json.dumps(request))
        while True:  # events arrive between the answers; the caller bounds the wait
            answer = json.loads(await ws.receive())
            if answer.get("id") == id:
                assert "error" not in answer, answer
                result: dict[str, Any] = answer["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        self._next_id += 1
        result = await self.command(
            self._browser,
            self._next_id,
            "Runtime.evaluate",
            self._session,
            expression=expression,
            returnByValue=True,
        )
        if "exceptionDetails" in result:  # e.g. the page is still loading
            return None
        return result["result"]["value"]

    async def screenshot(self) -> bytes:
        self._next_id += 1
        result = await self.command(
            self._browser, self._next_id, "Page.captureScreenshot", self._session, format="png"
        )
        return base64.b64decode(result["data"])


@asynccontextmanager
async def open_page(url: str) -> AsyncIterator[DevTools]:
    """Start headless Chromium with a DevTools port on 127.0.0.1, open ``url`` in a page."""
    assert CHROMIUM is not None
    # Chromium's helper processes may still write to the profile when the browser is killed:
    # the whole process group is killed, and a late write must not fail the test.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = await trio.lowlevel.open_process(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            endpoint = await _devtools_endpoint(process)
            async with trioproto.open_websocket(
                endpoint, limits=trioproto.Limits(max_message_size=None), compression=None
            ) as browser:
                target = await DevTools.command(
                    browser,
                    1,
                    "Target.createTarget",
                    url=url,
                    newWindow=True,
                    width=1000,
                    height=720,
                )
                attached = await DevTools.command(
                    browser, 2, "Target.attachToTarget", targetId=target["targetId"], flatten=True
                )
                yield DevTools(browser, attached["sessionId"])
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with trio.move_on_after(10):
                await process.wait()


async def _devtools_endpoint(process: trio.Process) -> str:
    """The ``ws://127.0.0.1:PORT/devtools/browser/ID`` line Chromium prints on stderr."""
    assert process.stderr is not None
    output = b""
    with trio.fail_after(30):
        while b"DevTools listening on " not in output or not output.endswith(b"\n"):
            chunk = await process.stderr.receive_some()
            assert chunk, f"chromium exited: {output.decode(errors='replace')}"
            output += chunk
    line = output.split(b"DevTools listening on ", 1)[1].split(b"\n", 1)[0]
    return line.decode().strip()


async def wait_for(page: DevTools, condition: str) -> dict[str, Any]:
    """Poll the page's figures until ``condition`` (a JS expression on ``f``) holds."""
    for _ in range(200):  # 20 s at most
        figures: dict[str, Any] | None = await page.evaluate(READ_FIGURES)
        if figures is not None and await page.evaluate(
            f"(f => {condition})({json.dumps(figures)})"
        ):
            return figures
        await trio.sleep(0.1)
    raise AssertionError(f"the page never showed {condition}: {figures}")


async def make_traffic(url: str, done: trio.Event) -> None:
    """Echo messages until ``done``: the traffic lasts as long as the page needs to see it,
    however slowly a loaded machine lets Chromium sample."""
    async with trioproto.open_websocket(url) as ws:
        number = 0
        while not done.is_set():
            await ws.send(f"message {number}")
            assert await ws.receive() == f"message {number}"
            number += 1
            await trio.sleep(0.01)


async def test_the_dashboard_follows_live_traffic(
    start_server: StartServer, tmp_path: Path
) -> None:
    from examples import dashboard

    server = await start_server(dashboard.router)
    with trio.fail_after(90):
        async with open_page(f"http://127.0.0.1:{server.port}/") as page:
            quiet = await wait_for(page, "f.status === 'live' && f.samples >= 2")
            assert quiet["open"] == 1  # the page's own /live connection
            assert quiet["rateIn"] == 0

            done = trio.Event()
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(make_traffic, ws_url(server, "/echo"), done)
                busy = await wait_for(page, "f.open === 4 && f.rateIn > 10 && f.rateOut > 10")
                await wait_for(page, f"f.messagesIn >= {quiet['messagesIn'] + 600}")
                pixels = await page.evaluate(COUNT_LINE_PIXELS)
                screenshot = await page.screenshot()
                done.set()
            after = await wait_for(page, "f.open === 1")
    (tmp_path / "dashboard.png").write_bytes(screenshot)  # to look at after a failure

    assert busy["total"] == quiet["total"] + 3
    assert after["messagesIn"] >= quiet["messagesIn"] + 600
    assert after["samples"] > quiet["samples"]
    assert pixels["blue"] > 50, pixels  # both rates are drawn on the chart
    assert pixels["orange"] > 50, pixels
    assert screenshot.startswith(b"\x89PNG\r\n\x1a\n")
