"""The Home tab's CRM section, for workspace admins: connect HubSpot or Salesforce (a modal,
checked with the CRM before anything is saved), disconnect, and try a failed push again.
Every press and submission is checked for an admin: a button is no permission."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.crm.connections import CrmConnections
from bot.intro.crm import CrmVendor
from bot.intro.crm_admin import (
    KEPT_FIELDS,
    ConnectOutcome,
    ConnectResult,
    read_credentials,
    vendor_of,
)
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.rendering.ids import ActionFamily, ActionId, CallbackId
from bot.rendering.values import PushRef
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.context import actor_of, services_of
from handlers.forms import submitted_values
from handlers.replies import open_view, publish_home
from handlers.support import is_admin

CONNECT_BUTTONS = {
    ActionId.CRM_CONNECT_HUBSPOT: CrmVendor.HUBSPOT,
    ActionId.CRM_CONNECT_SALESFORCE: CrmVendor.SALESFORCE,
}


async def _refused(services: Services, client: AsyncWebClient, team_id: str, user_id: str) -> bool:
    """Whether the presser is not (or cannot be seen to be) an admin, in which case their
    Home tab says so and nothing else happens."""
    admin = await is_admin(services, client, team_id, user_id)
    if admin:
        return False
    notice = messages.command_reply("admins_only" if admin is False else "admin_unknown")
    await publish_home(services, client, team_id, user_id, notice=notice)
    return True


def _connections(services: Services) -> CrmConnections:
    if services.crm is None:
        raise RuntimeError("no CRM connections service")
    return services.crm


async def connect_open(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    if await _refused(services, client, actor.team_id, actor.user_id):
        return
    vendor = CONNECT_BUTTONS[ActionId(action["action_id"])]
    oauth = services.hubspot_oauth
    if vendor == CrmVendor.HUBSPOT and oauth is not None:
        url = await oauth.consent_url(actor.team_id, actor.user_id)
        await open_view(client, body["trigger_id"], messages.crm_consent_modal(url), logger)
        return
    await open_view(client, body["trigger_id"], messages.crm_modal(vendor), logger)


async def connect_submitted(
    ack: AsyncAck,
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """Malformed fields are named under them at once; well-formed credentials are checked
    with the CRM after the ack (the modal says it is checking), and the modal then shows
    the connection made, or what stands in its way."""
    services, actor = services_of(context), actor_of(context)
    vendor = vendor_of(view.get("private_metadata"))
    if vendor is None:
        await ack()
        return
    values = submitted_values(view)
    credentials, errors = read_credentials(vendor, values)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    admin = await is_admin(services, client, actor.team_id, actor.user_id)
    if not admin:
        first = next(iter(credentials))
        reply = messages.command_reply("admins_only" if admin is False else "admin_unknown")
        await ack(response_action="errors", errors={first: reply})
        return
    await ack(response_action="update", view=messages.crm_modal(vendor, "checking"))
    try:
        result = await _connections(services).connect(
            actor.team_id, vendor, credentials, actor.user_id
        )
    except Exception:  # noqa: BLE001 - the modal says so, rather than checking forever
        logger.exception("connecting %s for %s failed", vendor, actor.team_id)
        result = ConnectResult(ConnectOutcome.BROKE, vendor)
    if result.outcome == ConnectOutcome.CONNECTED:
        shown = messages.crm_modal(vendor, "done", result)
    else:
        kept = {name: credentials[name] for name in KEPT_FIELDS if name in credentials}
        shown = messages.crm_modal(vendor, "form", result, kept)
    await _show(client, view, shown, result, logger)
    await publish_home(services, client, actor.team_id, actor.user_id)


async def _show(
    client: AsyncWebClient,
    view: dict[str, Any],
    shown: dict[str, Any],
    result: ConnectResult,
    logger: Logger,
) -> None:
    try:
        await client.views_update(view_id=view["id"], view=shown)
    except SlackApiError as exc:  # closed meanwhile: the Home tab shows where it stands
        logger.info("crm result (%s) not shown: %s", result.outcome, slack_error_code(exc))


async def disconnect(ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    if await _refused(services, client, actor.team_id, actor.user_id):
        return
    vendor = await _connections(services).disconnect(actor.team_id)
    notice = messages.command_reply("crm_disconnected", crm=vendor_of(vendor))
    await publish_home(services, client, actor.team_id, actor.user_id, notice=notice)


async def retry(
    ack: AsyncAck, action: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    if await _refused(services, client, actor.team_id, actor.user_id):
        return
    push = PushRef.decode(action.get("value"))
    again = push is not None and await _connections(services).retry(actor.team_id, push.message_id)
    notice = messages.command_reply("crm_retried" if again else "crm_retry_gone")
    await publish_home(services, client, actor.team_id, actor.user_id, notice=notice)


async def _link_followed(ack: AsyncAck) -> None:
    await ack()


def register(app: AsyncApp, work: WorkQueue) -> None:
    for action_id in CONNECT_BUTTONS:
        app.action(action_id)(work.opens_modal(connect_open))
    app.view(CallbackId.CRM_MODAL)(work.tracked(connect_submitted))
    app.action(ActionId.CRM_DISCONNECT)(work.tracked(disconnect))
    # The consent link opens in the browser; Slack tells the app of the click, which needs
    # nothing but its ack.
    app.action(ActionId.CRM_CONSENT)(work.tracked(_link_followed))
    app.action(ActionFamily.CRM_RETRY.pattern)(work.tracked(retry))
