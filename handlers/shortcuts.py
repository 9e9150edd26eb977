"""The "Request an intro" message shortcut."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.names import find_prospect
from bot.rendering import messages
from bot.wiring.app import Services
from handlers.support import known_teammate, open_intro_modal
from handlers.views import refresh_suggestions


def register(app: AsyncApp, services: Services) -> None:
    @app.shortcut("request_intro_from_message")
    @services.work.opens_modal
    async def request_intro_from_message(
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        await ack()
        message = body.get("message") or {}
        prospect = find_prospect(str(message.get("text") or ""))
        name = prospect.name
        if prospect.user_id:
            # One quick look-up; the trigger_id stays valid for about 3 seconds.
            person = await known_teammate(services, client, context.team_id or "", prospect.user_id)
            name = person.name if person else ""
        prefill = messages.ModalPrefill(target_name=name)
        opened = await open_intro_modal(
            client,
            body["trigger_id"],
            prefill,
            messages.ModalContext(
                source_channel_id=(body.get("channel") or {}).get("id"),
                source_message_ts=message.get("ts"),
            ),
            logger,
            source_hint=str(message.get("text") or "")[:200] or None,
        )
        if opened is not None and name and not services.work.busy:  # optional when busy
            async with services.work.work_slot():
                await refresh_suggestions(
                    services, client, context.team_id or "", body["user"]["id"], opened, prefill
                )
