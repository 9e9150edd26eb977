"""How the bot answers a person in Slack: in place of the message pressed, privately where
they pressed, on their Home tab, or in a modal."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.accounts import WORKSPACE_LIST
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.services.container import Services
from handlers.support import is_admin
from handlers.team_view import CHART_REFUSED, chart_left_out, manager_view, with_team

logger = logging.getLogger(__name__)


def from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


async def replace_pressed_message(
    client: AsyncWebClient, body: dict[str, Any], message: messages.Message
) -> bool:
    """Put `message` in place of the bot's message whose button was pressed; False when the
    press came from somewhere without one (a modal, the Home tab)."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if not (channel and ts):
        return False
    await client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
    return True


async def tell_privately(
    services: Services,
    client: AsyncWebClient,
    body: dict[str, Any],
    team_id: str,
    user_id: str,
    text: str,
) -> None:
    """An ephemeral note where the user pressed; on App Home, the home view shows it; from a
    modal (no channel), a DM."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    if not channel:
        if from_home(body):
            await publish_home(services, client, team_id, user_id, notice=text)
        else:
            await client.chat_postMessage(channel=user_id, text=text)
        return
    try:
        await client.chat_postEphemeral(channel=channel, user=user_id, text=text)
    except SlackApiError as exc:
        # Not a member of that conversation (a forwarded or someone else's DM): DM them.
        logger.info("ephemeral note refused (%s); sending a DM", slack_error_code(exc))
        await client.chat_postMessage(channel=user_id, text=text)


async def say_privately(
    client: AsyncWebClient,
    body: dict[str, Any],
    user_id: str,
    message: messages.Message,
    *,
    raising: Collection[str] = (),
) -> None:
    """A message with buttons for one person: ephemeral where they pressed or typed, else
    (the Home tab, a modal, a conversation introbot is not in) in their DM. Slack's errors
    in `raising` are the caller's to handle rather than a reason to send a DM."""
    channel = (
        (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
        or body.get("channel_id")
    )
    if channel:
        try:
            await client.chat_postEphemeral(
                channel=channel, user=user_id, text=message.text, blocks=message.blocks
            )
            return
        except SlackApiError as exc:
            if slack_error_code(exc) in raising:
                raise
            logger.info("ephemeral message refused (%s); sending a DM", slack_error_code(exc))
    await client.chat_postMessage(channel=user_id, text=message.text, blocks=message.blocks)


async def publish_home(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
    notice: str | None = None,
    contacts_page: int = 0,
    contacts_search: str = "",
) -> None:
    workflow, directory = services.workflow, services.directory
    # One session, one connection, for the whole page.
    async with services.sessions() as session:
        shown = messages.HOME_REQUESTS
        mine = await workflow.requests_by(team_id, user_id, shown, session=session)
        waiting = await workflow.waiting_on(team_id, user_id, shown, session=session)
        contact_page = await directory.contact_page(
            team_id, user_id, contacts_page, contacts_search, session=session
        )
        prefs = await directory.prefs(team_id, user_id, session=session)
        report = await services.attribution.report(team_id, user_id, session=session)
        lists = (user_id, WORKSPACE_LIST)
        coverage = await services.accounts.coverage(
            team_id, lists, viewer_id=user_id, session=session
        )
        webhook = (
            await services.webhooks.state(team_id, session=session)
            if services.webhooks is not None
            else None
        )
        crm = (
            await services.crm.state(team_id, session=session) if services.crm is not None else None
        )
        team = await services.teams.team_of(team_id, user_id, session=session)
    admin = bool((webhook or crm) and await is_admin(services, client, team_id, user_id))
    view = messages.home_view(
        mine,
        waiting,
        first_time=not mine and not waiting and not contact_page.total,
        notice_text=notice,
        contact_page=contact_page,
        share_tie_details=bool(prefs.share_tie_details),
        funnel=messages.funnel_lines(report, user_id) if mine or waiting else None,
        accounts=messages.home_accounts(coverage, lists),
        # The workspace's webhook and CRM: admins only (the only ones who may change them).
        webhook=webhook if admin else None,
        crm=crm if admin else None,
    )
    manager = await manager_view(services, client, team_id, team)
    if manager is not None:
        view = with_team(view, manager)
    try:
        await client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:
        if manager is None or manager.file_id is None or slack_error_code(exc) not in CHART_REFUSED:
            raise
        # Slack won't show the chart's file (not processed yet, or deleted): the numbers
        # alone now, and a new upload next time.
        logger.warning("home chart refused: %s", slack_error_code(exc))
        await services.teams.forget_chart(team_id, user_id)
        await client.views_publish(user_id=user_id, view=chart_left_out(view))


async def open_view(
    client: AsyncWebClient, trigger_id: str, view: dict[str, Any] | str, logger: logging.Logger
) -> dict[str, Any] | None:
    """Open a modal; the opened view (with its id and hash), or None if Slack said no. `view`:
    a dict, or JSON text as a template rendered it (slack_sdk passes a string on as it is, and
    Slack takes the view as a JSON string), so it is not parsed here to be encoded again."""
    try:
        # slack_sdk's hint names a dict; it sends a string on unchanged.
        response = await client.views_open(
            trigger_id=trigger_id,
            view=view,  # type: ignore[arg-type]
        )
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", slack_error_code(exc))
        return None
    opened: dict[str, Any] = response["view"]
    return opened
