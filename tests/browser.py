"""A real headless Chromium, driven over the Chrome DevTools Protocol: for the pages the app
serves (the install page, the CRM connection's result), clicked through as a person would."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not shutil.which("chromium"), reason="Debian's chromium is not installed"
)


class DevTools:
    """Just enough of the Chrome DevTools Protocol to drive one page of headless Chromium."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next_id = 0
        self.session_id = ""

    async def call(self, method: str, **params: object) -> dict:
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params}
        if self.session_id:
            message["sessionId"] = self.session_id
        await self._socket.send_json(message)
        while True:
            answer = await asyncio.wait_for(self._socket.receive_json(), 30)
            if answer.get("id") == self._next_id:
                assert "error" not in answer, answer
                return dict(answer.get("result") or {})

    async def evaluate(self, expression: str) -> object:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return (result.get("result") or {}).get("value")

    async def wait_for(self, expression: str, seconds: float = 20) -> object:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise TimeoutError(expression)


# Headless, and quiet: without the background-networking flags Chromium keeps trying hosts
# this closed network refuses.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


async def dump_dom(url: str) -> str:
    """The page as headless Chromium renders it (scripts run, the DOM serialised)."""
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    return out.decode()


@asynccontextmanager
async def chromium_page() -> AsyncIterator[DevTools]:
    """One blank page of a fresh headless Chromium (its own profile: no cookies)."""
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stderr is not None
            endpoint = ""
            while not endpoint:
                line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
                assert line, "chromium exited before listening"
                if "DevTools listening on " in line:
                    endpoint = line.split("DevTools listening on ", 1)[1].strip()
            async with aiohttp.ClientSession() as http, http.ws_connect(endpoint) as socket:
                tools = DevTools(socket)
                target = await tools.call("Target.createTarget", url="about:blank")
                attached = await tools.call(
                    "Target.attachToTarget", targetId=target["targetId"], flatten=True
                )
                tools.session_id = attached["sessionId"]
                yield tools
        finally:
            process.terminate()
            await process.wait()
