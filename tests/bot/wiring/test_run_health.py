"""`introbot run` (Socket Mode) serves /healthz, /readyz and /metrics on INTROBOT_HEALTH_PORT.

Slack's side here is a small Socket Mode stand-in on loopback: `apps.connections.open` hands
out a WebSocket URL, the socket says hello and sends one slash command envelope, and the
bot's ack comes back on the socket with its envelope id.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.standin import payloads

INTROBOT = shutil.which("introbot") or ""
APP_TOKEN = "xapp-1-A0INTROBOT-1-test"
BOT_TOKEN = "xoxb-run-test"


class SocketModeSlack:
    """Just enough of Slack for `introbot run` to connect, be asked once, and be tested."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self.auth_tests = 0
        self._runner: web.AppRunner | None = None
        self.root = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_post("/api/auth.test", self._auth_test)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.root = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return f"{self.root}/api/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _open(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {APP_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        ws_url = self.root.replace("http://", "ws://") + "/link"
        return web.json_response({"ok": True, "url": ws_url})

    async def _auth_test(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.auth_tests += 1
        return web.json_response(
            {"ok": True, "team_id": payloads.TEAM_ID, "user_id": "UBOT", "bot_id": "BBOT"}
        )

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {}})
        command = payloads.slash_command("U0REQUESTER", "help", "trigger-1")
        await ws.send_json(
            {
                "envelope_id": "envelope-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": command,
            }
        )
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
        return ws


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
async def test_run_serves_health_readiness_and_metrics(tmp_path: Path) -> None:
    slack = SocketModeSlack()
    api_url = await slack.start()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env |= {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "INTROBOT_HEALTH_PORT": str(port),
        "INTROBOT_HEALTH_HOST": "127.0.0.1",
    }
    process = await asyncio.create_subprocess_exec(
        INTROBOT,
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 30
            while True:
                assert process.returncode is None, "introbot run stopped"
                assert time.monotonic() < deadline, "no /healthz on INTROBOT_HEALTH_PORT"
                try:
                    if (await _get(session, f"{root}/healthz"))[0] == 200:
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            status, body = await _get(session, f"{root}/readyz")
            assert status == 200, body
            assert json.loads(body)["checks"]["slack_auth"] == {"ok": True}

            # The slash command sent over the socket is acked there with its envelope id...
            while not slack.acks:
                assert time.monotonic() < deadline, "no ack on the socket"
                await asyncio.sleep(0.05)
            assert slack.acks[0]["envelope_id"] == "envelope-1"
            assert "/intro" in json.dumps(slack.acks[0]["payload"])
            # ...and counted like one that came over HTTP.
            status, text = await _get(session, f"{root}/metrics")
            assert status == 200
            assert 'introbot_slack_requests_total{kind="slash_command"} 1.0' in text
            assert 'introbot_slack_ack_seconds_count{kind="slash_command"} 1.0' in text
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        await slack.stop()
    assert "health and metrics on http://127.0.0.1" in stderr.decode()
