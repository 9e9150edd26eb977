"""`introbot run`'s connection to Slack over Socket Mode, and its clean shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.observability.slack_errors import slack_error_code
from bot.services.container import Services
from bot.settings import SettingsError

logger = logging.getLogger(__name__)


class SocketModeConnection(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler on slack_sdk's aiohttp client (aiohttp is already what the app
    runs on; the `websockets` client would be one more dependency for the same protocol).

    It is given the app's own Web API client, so `apps.connections.open` goes to
    `SLACK_API_URL` like every other call. It can stop taking envelopes and let those under way
    send their acknowledgements before the socket closes, for a clean shutdown.
    """

    def __init__(self, app: AsyncApp, services: Services) -> None:
        super().__init__(app, services.settings.SLACK_APP_TOKEN, web_client=services.client)
        self._taking_envelopes = True
        self._handling: set[asyncio.Task[Any]] = set()

    async def check_app_token(self) -> None:
        """Ask for the first WebSocket URL now (connecting uses it), so a refused app-level token
        stops introbot with one line instead of slack_sdk retrying it forever."""
        try:
            self.client.wss_uri = await self.client.issue_new_wss_url()
        except SlackApiError as exc:
            error = slack_error_code(exc)
            raise SettingsError(f"SLACK_APP_TOKEN was refused by Slack: {error}") from None

    async def run_until(self, stop: asyncio.Event) -> None:
        """Connect, then stay connected (slack_sdk reconnects as needed) until `stop` is set;
        a stop while still connecting ends the attempt."""
        opening = asyncio.ensure_future(self.connect_async())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if opening.done():
                opening.result()
                logger.info("connected to Slack over Socket Mode")
                await stopping
        finally:
            opening.cancel()
            stopping.cancel()

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if not self._taking_envelopes:
            # Left unacknowledged: Slack retries events; the rest fail as a request to a
            # stopping HTTP server would.
            return
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
        try:
            await super().handle(client, req)
        finally:
            if task is not None:
                self._handling.discard(task)

    async def stop(self, timeout: float = 10.0) -> None:
        """Take no new envelopes, wait for those being handled to be acknowledged, close."""
        self._taking_envelopes = False
        if self._handling:
            await asyncio.wait(set(self._handling), timeout=timeout)
        await self.close_async()
