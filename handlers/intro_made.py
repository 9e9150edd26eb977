""" "They agreed: intro made" (the connector's, or the requester's for a connector outside the
team). In a workspace with a CRM it opens a small modal first, where the target's email may
be given for the CRM alone; elsewhere it makes the change at once."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.states import Action
from bot.intro.validation import email_problem
from bot.rendering import messages
from bot.rendering.ids import ActionId, CallbackId
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.buttons import act_and_deliver
from handlers.context import actor_of, services_of
from handlers.forms import request_of, submitted_values
from handlers.pressed import pressed_request
from handlers.refusals import tells_refusals
from handlers.replies import open_view, publish_home

# The modal's field (its block id).
EMAIL_FIELD = "target_email"
AGREED_BUTTONS = (ActionId.TARGET_AGREED, ActionId.OUTSIDE_TARGET_AGREED)


async def _crm_wanted(services: Services, team_id: str) -> bool:
    """The workspace has a CRM the target's email would go to."""
    return services.target_emails is not None and await services.target_emails.wanted(team_id)


@tells_refusals
async def intro_made_pressed(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """With a CRM: check the change is still possible, then ask for the email (optional) in a
    modal. Without one: the change, at once."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    request_id = pressed_request(action)
    if await _crm_wanted(services, actor.team_id):
        request = await services.workflow.check(
            actor.team_id, request_id, actor.user_id, Action.TARGET_AGREED
        )
        await open_view(client, body["trigger_id"], messages.intro_made_modal(request), logger)
        return
    async with services.work.work_slot():
        await act_and_deliver(context, client, body, request_id, Action.TARGET_AGREED)


@tells_refusals
async def intro_made_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """A malformed email is refused under its field; otherwise the intro is made, with the
    email when the workspace still has its CRM (disconnected meanwhile: nothing is kept)."""
    email = str(submitted_values(view).get(EMAIL_FIELD) or "").strip()
    problem = email_problem(email)
    if problem is not None:
        await ack(response_action="errors", errors={EMAIL_FIELD: problem})
        return
    await ack()
    services, actor = services_of(context), actor_of(context)
    if email and not await _crm_wanted(services, actor.team_id):
        email = ""
    outcome = await services.workflow.act(
        actor.team_id,
        request_of(view),
        actor.user_id,
        Action.TARGET_AGREED,
        target_email=email or None,
        lease=services.dispatcher.lease(),
    )
    await services.dispatcher.deliver_outcome(outcome)
    # The Home tab lists the request too: it shows the change wherever it was pressed.
    await publish_home(services, client, actor.team_id, actor.user_id)


def register(app: AsyncApp, work: WorkQueue) -> None:
    for action_id in AGREED_BUTTONS:
        app.action(action_id)(work.opens_modal(intro_made_pressed))
    app.view(CallbackId.INTRO_MADE_MODAL)(work.tracked(intro_made_submitted))
