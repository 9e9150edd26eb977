"""The /intro slash command."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.app import Services


def register(app: AsyncApp, services: Services) -> None:
    @app.command("/intro")
    @services.tracked
    async def intro_command(
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
        logger: Logger,
    ) -> None:
        await ack()
        target = (body.get("text") or "").strip()
        view = messages.intro_modal(
            messages.ModalPrefill(target_name=target), messages.ModalContext()
        )
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            logger.warning("views.open for /intro failed: %s", exc.response.get("error"))
            await respond(text=messages.note("modal_failed"), response_type="ephemeral")
