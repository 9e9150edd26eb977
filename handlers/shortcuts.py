"""The "Request an intro" message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.names import find_prospect
from bot.rendering import messages
from bot.rendering.ids import CallbackId
from bot.services.work_queue import WorkQueue
from handlers.context import actor_of, services_of
from handlers.suggestions import open_intro_form
from handlers.support import known_teammate


async def request_intro_from_message(
    ack: AsyncAck,
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    message = body.get("message") or {}
    prospect = find_prospect(str(message.get("text") or ""))
    name = prospect.name
    if prospect.user_id:
        # One quick look-up; the trigger_id stays valid for about 3 seconds.
        person = await known_teammate(services, client, actor.team_id, prospect.user_id)
        name = person.name if person else ""
    prefill = messages.ModalPrefill(target_name=name)
    form_context = messages.ModalContext(
        source_channel_id=(body.get("channel") or {}).get("id"),
        source_message_ts=message.get("ts"),
    )
    hint = str(message.get("text") or "")[:200] or None
    await open_intro_form(services, client, actor, body["trigger_id"], prefill, form_context, hint)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.shortcut(CallbackId.MESSAGE_SHORTCUT)(work.opens_modal(request_intro_from_message))
