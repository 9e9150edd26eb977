"""Events: the App Home tab; the app uninstalled or its tokens revoked; teammates Slack
deactivates."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.wiring.app import Services
from bot.wiring.uninstall import workspace_removed
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

    @app.event("app_uninstalled")
    @services.tracked
    async def app_uninstalled(context: AsyncBoltContext) -> None:
        await _removed(context, "app_uninstalled")

    @app.event("tokens_revoked")
    @services.tracked
    async def tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Only the bot's tokens matter: introbot keeps no user tokens.
        if (event.get("tokens") or {}).get("bot"):
            await _removed(context, "tokens_revoked")

    async def _removed(context: AsyncBoltContext, reason: str) -> None:
        await workspace_removed(
            services,
            context.team_id,
            context.enterprise_id,
            bool(context.is_enterprise_install),
            reason,
        )

    register_user_change(app, services)


def register_user_change(app: AsyncApp, services: Services) -> None:
    @app.event("user_change")
    @services.tracked
    async def user_change(event: dict[str, Any], context: AsyncBoltContext) -> None:
        """A deactivated teammate is out of suggestions at once, and their contacts go after
        INTROBOT_UNINSTALL_RETENTION (the sweep); one brought back is suggested again."""
        user = event.get("user") or {}
        user_id = str(user.get("id") or "")
        team_id = context.team_id or str(user.get("team_id") or "")
        if not user_id or not team_id:
            return
        await services.directory.mark_departed(team_id, user_id, bool(user.get("deleted")))
        if user.get("deleted") and not services.settings.uninstall_retention:
            await services.directory.purge_departed(services.settings.uninstall_retention)
