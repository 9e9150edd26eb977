"""What every stand-in server shares: served on loopback from the running loop, on a port the
system picks unless one is given, stopped, and used with `async with`."""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """A stand-in's aiohttp server. A subclass builds its application in `start` and serves it
    with `_serve`; `url` is its root once started."""

    scheme = "http"

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        raise NotImplementedError

    def _not_running(self) -> None:
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")

    async def _serve(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> str:
        """Serve `app`; its root URL (port 0 lets the system pick a free port)."""
        self._not_running()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        self._runner = runner
        self._url = f"{self.scheme}://{url_host}:{bound_port}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The server's root, such as ``http://127.0.0.1:54321``."""
        if self._url is None:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self._url
