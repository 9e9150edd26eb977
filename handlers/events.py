"""Events: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.wiring.app import Services
from handlers.support import publish_home


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_home_opened")
    @services.tracked
    async def app_home_opened(
        event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        if event.get("tab", "home") != "home":
            return
        await publish_home(services, client, context.team_id or "", event["user"])
