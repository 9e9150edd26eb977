"""Events: the App Home tab; the app uninstalled or its tokens revoked; teammates who join,
change their profile or are deactivated."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.slack_people import teammate_from
from bot.services.uninstall import workspace_removed
from bot.services.work_queue import WorkQueue
from handlers.context import services_of
from handlers.replies import publish_home


async def app_home_opened(
    event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    if event.get("tab", "home") != "home":
        return
    await publish_home(services_of(context), client, context.team_id or "", event["user"])


async def app_uninstalled(context: AsyncBoltContext) -> None:
    await removed(context, "app_uninstalled")


async def tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
    # Only the bot's tokens matter: introbot keeps no user tokens.
    if (event.get("tokens") or {}).get("bot"):
        await removed(context, "tokens_revoked")


async def removed(context: AsyncBoltContext, reason: str) -> None:
    await workspace_removed(
        services_of(context),
        context.team_id,
        context.enterprise_id,
        bool(context.is_enterprise_install),
        reason,
    )


async def team_join(event: dict[str, Any], context: AsyncBoltContext) -> None:
    user = event.get("user") or {}
    team_id = context.team_id or str(user.get("team_id") or "")
    if user.get("id") and team_id:
        await services_of(context).people.changed(team_id, teammate_from(user))


async def user_change(event: dict[str, Any], context: AsyncBoltContext) -> None:
    """A deactivated teammate is out of suggestions at once, and their contacts go after
    INTROBOT_UNINSTALL_RETENTION (the sweep); one brought back is suggested again. Their
    stored profile follows what Slack says now."""
    services = services_of(context)
    user = event.get("user") or {}
    user_id = str(user.get("id") or "")
    team_id = context.team_id or str(user.get("team_id") or "")
    if not user_id or not team_id:
        return
    await services.people.changed(team_id, teammate_from(user))
    await services.directory.mark_departed(team_id, user_id, bool(user.get("deleted")))
    if user.get("deleted") and not services.settings.uninstall_retention:
        await services.directory.purge_departed(services.settings.uninstall_retention)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.event("app_home_opened")(work.tracked(app_home_opened))
    app.event("app_uninstalled")(work.tracked(app_uninstalled))
    app.event("tokens_revoked")(work.tracked(tokens_revoked))
    app.event("user_change")(work.tracked(user_change))
    app.event("team_join")(work.tracked(team_join))
