"""A customer's webhook receiver on loopback: it checks each POST's signature the way the
README tells a customer to, and keeps what it was sent."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# A signature more than this far from the receiver's clock is refused (a replay).
FRESH_S = 5 * 60


@dataclass
class Receiver:
    secret: str
    now: Callable[[], float]  # the receiver's clock, in Unix seconds
    answer: int = 200  # the status it answers a good POST with
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why bad POSTs were turned away
    posts: int = 0
    latency: float = 0.0  # how long it takes to answer, in seconds
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        self.posts += 1
        body = await request.read()
        if self.latency:
            await asyncio.sleep(self.latency)
        timestamp = request.headers.get("X-Introbot-Request-Timestamp", "")
        given = request.headers.get("X-Introbot-Signature", "")
        if not timestamp.isdigit() or abs(self.now() - int(timestamp)) > FRESH_S:
            self.refused.append("stale or missing timestamp")
            return web.Response(status=401)
        base = f"v0:{timestamp}:".encode() + body
        expected = "v0=" + hmac.new(self.secret.encode(), base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            self.refused.append("bad signature")
            return web.Response(status=401)
        if self.answer // 100 != 2:
            return web.Response(status=self.answer)
        self.received.append(json.loads(body))
        return web.Response(status=self.answer)

    def events(self) -> list[tuple[int, str, str]]:
        return [(p["request_id"], p["event"], p["state"]) for p in self.received]
