"""The requester's thanks to the connector, in the requester's own words: a button opens them
prefilled, the requester changes them as they like, and the connector gets them as theirs."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.validation import say
from bot.rendering import messages
from bot.rendering.ids import ActionId, CallbackId
from bot.services.work_queue import WorkQueue
from handlers.context import actor_of, services_of
from handlers.forms import request_of, submitted_values
from handlers.pressed import pressed_request
from handlers.refusals import tells_refusals
from handlers.replies import open_view


@tells_refusals
async def open_thanks(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    request = await services.workflow.check_thanks(
        actor.team_id, pressed_request(action), actor.user_id
    )
    await open_view(client, body["trigger_id"], messages.thanks_modal(request), logger)


@tells_refusals
async def thanks_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    services, actor = services_of(context), actor_of(context)
    words = " ".join(str(submitted_values(view).get("thanks") or "").split())
    if not words:
        await ack(response_action="errors", errors={"thanks": say("thanks_missing")})
        return
    request = await services.workflow.check_thanks(actor.team_id, request_of(view), actor.user_id)
    await ack(response_action="update", view=messages.thanks_modal(request, sent=True))
    sent = await services.workflow.send_thanks(actor.team_id, request.id, actor.user_id, words)
    await services.dispatcher.deliver(sent.message_ids)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.action(ActionId.THANK_CONNECTOR)(work.opens_modal(open_thanks))
    app.view(CallbackId.THANKS_MODAL)(work.tracked(thanks_submitted))
