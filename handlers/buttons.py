"""Buttons that change a request at once: the connector's and the owner's answers, the
requester's cancel, follow-up and outcome stages, the ask's wording, "still waiting"."""

from __future__ import annotations

from typing import Any, Unpack

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.states import Action
from bot.intro.states import Outcome as OutcomeKind
from bot.intro.workflow import ActionDetails, Outcome
from bot.rendering import messages
from bot.rendering.ids import ActionFamily, ActionId
from bot.services.work_queue import WorkQueue
from handlers.context import actor_of, services_of
from handlers.pressed import pressed_choice, pressed_request
from handlers.refusals import tells_refusals
from handlers.replies import from_home, publish_home, replace_pressed_message, say_privately
from handlers.support import time_zone_of

# Buttons that change state at once ("They agreed: intro made" is handlers.intro_made's: it
# may ask for the target's email first).
DIRECT_ACTIONS = {
    ActionId.ACCEPT: Action.ACCEPT,
    ActionId.TARGET_DECLINED: Action.TARGET_DECLINED,
    ActionId.CANCEL: Action.CANCEL,
    ActionId.FOLLOWED_UP: Action.FOLLOW_UP,
    ActionId.OWNER_APPROVE: Action.OWNER_APPROVE,
}
# The answer to "would they take your call?" that records the tie as lapsed.
LAPSED_ANSWER = "not_really"
# The connector's choice of opt-in ask: button -> named.
ASK_CHOICES = {ActionId.ASK_NAMED: True, ActionId.ASK_ANONYMOUS: False}


async def act_and_deliver(
    context: AsyncBoltContext,
    client: AsyncWebClient,
    body: dict[str, Any],
    request_id: int,
    action: Action,
    **details: Unpack[ActionDetails],
) -> None:
    """Apply a person's action and send what it promised (the workflow's refusals go up to
    `tells_refusals`); the Home tab again when pressed there."""
    services, actor = services_of(context), actor_of(context)
    outcome = await services.workflow.act(
        actor.team_id,
        request_id,
        actor.user_id,
        action,
        lease=services.dispatcher.lease(),
        **details,
    )
    await deliver_where_pressed(context, client, body, outcome)


async def deliver_where_pressed(
    context: AsyncBoltContext, client: AsyncWebClient, body: dict[str, Any], outcome: Outcome
) -> None:
    """Send what a pressed change promised; the Home tab again when pressed there, so it
    shows the change."""
    services, actor = services_of(context), actor_of(context)
    await services.dispatcher.deliver_outcome(outcome)
    if from_home(body):
        await publish_home(services, client, actor.team_id, actor.user_id)


@tells_refusals
async def direct_action(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    await ack()
    chosen = DIRECT_ACTIONS[ActionId(action["action_id"])]
    await act_and_deliver(context, client, body, pressed_request(action), chosen)


@tells_refusals
async def choose_ask(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """The connector names the requester in the opt-in ask, or leaves them out."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    named = ASK_CHOICES[ActionId(action["action_id"])]
    outcome = await services.workflow.choose_named_ask(
        actor.team_id, pressed_request(action), actor.user_id, named
    )
    await deliver_where_pressed(context, client, body, outcome)


@tells_refusals
async def qualify(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """The connector's answer to "would they take your call?": kept on the request and
    in their directory."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    choice = pressed_choice(action)
    outcome = await services.workflow.qualify(
        actor.team_id, choice.request_id, actor.user_id, choice.detail
    )
    request = outcome.request
    await services.directory.record_vouch(
        actor.team_id,
        request.connector_id,
        request.target_name,
        request.target_company,
        str(messages.labels()["qualify"][choice.detail]["closeness"]),
        lapsed=choice.detail == LAPSED_ANSWER,
    )
    await services.dispatcher.deliver(outcome.message_ids)


@tells_refusals
async def report_outcome(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """A stage button (the card, a reminder) or a choice in a menu (Home, /intro outcome):
    the value is "<id>:<outcome>" either way."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    choice = pressed_choice(action)
    outcome = await services.workflow.report_outcome(
        actor.team_id,
        choice.request_id,
        actor.user_id,
        choice.detail,
        lease=services.dispatcher.lease(),
    )
    await deliver_where_pressed(context, client, body, outcome)
    request = outcome.request
    if request.connector_id and choice.detail != OutcomeKind.NO_RESPONSE:
        # introbot has told the connector what happened; the thanks are the requester's own.
        offer = messages.notice(request, "thank_offer")
        await say_privately(client, body, actor.user_id, offer)


@tells_refusals
async def still_waiting(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """The connector hasn't heard back yet: thank them in the reminder itself, which keeps
    the report buttons; the next reminder stays as planned."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    request = await services.workflow.check(
        actor.team_id, pressed_request(action), actor.user_id, Action.TARGET_AGREED
    )
    upcoming = await services.workflow.next_reminder(actor.team_id, request.id)
    rendered = messages.reminder(
        request,
        "target_check_waiting",
        now=services.clock.now(),
        tz_name=await time_zone_of(services, client, actor.team_id, actor.user_id),
        last=upcoming is not None and upcoming[1] == "target_quiet",
        next_due=upcoming[0] if upcoming else None,
    )
    await replace_pressed_message(client, body, rendered)


def register_accept(app: AsyncApp, work: WorkQueue) -> None:
    """Accept alone, to be registered ahead of the other listeners: the button pressed most."""
    app.action(ActionId.ACCEPT)(work.tracked(direct_action))


def register(app: AsyncApp, work: WorkQueue) -> None:
    """Every button here but Accept (`register_accept`)."""
    for action_id in DIRECT_ACTIONS:
        if action_id is not ActionId.ACCEPT:
            app.action(action_id)(work.tracked(direct_action))
    for action_id in ASK_CHOICES:
        app.action(action_id)(work.tracked(choose_ask))
    app.action(ActionId.QUALIFY)(work.tracked(qualify))
    app.action(ActionFamily.OUTCOME.pattern)(work.tracked(report_outcome))
    app.action(ActionId.STILL_WAITING)(work.tracked(still_waiting))
