"""After a dead end or a redirect: ask the suggested teammate, another one, the connector for
an intro to the better person they named, nudge through the connector, or go in cold; and
"Request an intro" on the Home tab."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.people import Teammate
from bot.intro.states import Status
from bot.intro.workflow import DuplicateSubmission, went_quiet_after_intro
from bot.rendering import messages
from bot.rendering.ids import ActionFamily, ActionId
from bot.rendering.texts import first_name, retarget_note
from bot.services.work_queue import WorkQueue
from handlers.context import actor_of, services_of
from handlers.pressed import pressed_choice, pressed_request
from handlers.refusals import tells_refusals
from handlers.replies import open_view, replace_pressed_message, tell_privately
from handlers.support import known_teammate


async def open_form_again(
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
    request_id: int,
    *,
    expected: Status | None,
    connector_id: str | None,
) -> None:
    """Open the form prefilled from the requester's earlier request, for another
    connector; the new request follows the earlier one (and replaces it, if stalled)."""
    services, actor = services_of(context), actor_of(context)
    original = await services.workflow.earlier_request(
        actor.team_id, request_id, actor.user_id, expected
    )
    await services.directory.keep_to_their_no(actor.team_id, original.target_name)
    # An ask for a way in stays one: whom its connector picked is theirs to tell, not the form's.
    hidden = original.way_in and original.intro_made_at is None
    view = messages.intro_modal(
        messages.ModalPrefill(
            connector_id=connector_id or original.suggested_user_id or "",
            target_name="" if hidden else original.target_name,
            target_company=original.target_company,
            target_role=original.target_role if hidden else "",
            reason=original.reason,
            blurb=original.blurb,
            share_name="now" if original.share_name else "",
            ask_size=original.ask_size,
            anonymous_as=original.anonymous_as,
        ),
        messages.ModalContext(
            previous_request_id=original.id,
            # A second voice after a quiet intro: the form asks whether to name who made it.
            first_connector=(
                first_name(original.connector_name) or "your first connector"
                if went_quiet_after_intro(original)
                else None
            ),
        ),
    )
    await open_view(client, body["trigger_id"], view, logger)


@tells_refusals
async def ask_suggested(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """The requester chose to ask the teammate the connector suggested."""
    await ack()
    await open_form_again(
        body,
        context,
        client,
        logger,
        pressed_request(action),
        expected=Status.REDIRECTED,
        connector_id=None,
    )


@tells_refusals
async def ask_person(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """The requester asks the same connector for an intro to the better person they named:
    the form opens prefilled for that person, the note's names changed to theirs, and the
    new request follows the first (one account, two paths)."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    original = await services.workflow.earlier_request(
        actor.team_id, pressed_request(action), actor.user_id, Status.REDIRECTED_TO_PERSON
    )
    person = original.suggested_name or ""
    view = messages.intro_modal(
        messages.ModalPrefill(
            connector_id=original.connector_id,
            target_name=person,
            target_company=original.suggested_company or "",
            reason=original.reason,
            # An ask for a way in named no one: its note speaks to whoever is picked.
            blurb=retarget_note(original.blurb, original.target_name, person)
            if original.target_name
            else original.blurb,
            share_name="now" if original.share_name else "",
        ),
        messages.ModalContext(
            previous_request_id=original.id,
            pointed_by=original.connector_id,
            pointed_from=original.target_name,
        ),
    )
    # No suggestions of who knows them: the connector who named them is the path.
    await open_view(client, body["trigger_id"], view, logger)


@tells_refusals
async def ask_secondary(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """After a dead end (a decline, a stall, no response, an ask gone quiet): "Ask them"
    opens the form prefilled for that teammate ("Pick someone else": whoever they choose)."""
    await ack()
    choice = pressed_choice(action)
    await open_form_again(
        body,
        context,
        client,
        logger,
        choice.request_id,
        expected=None,  # any dead end
        connector_id=choice.detail,
    )


@tells_refusals
async def secondary_offer_answered(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """The requester answers the secondary intro offer with "Ask <connector> to nudge" or
    "Leave it": the offer is replaced by what was done."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    request_id = pressed_request(action)
    bump = action["action_id"] == ActionId.SECONDARY_BUMP
    if bump:
        asked = await services.workflow.check_requester(actor.team_id, request_id, actor.user_id)
        await services.directory.keep_to_their_no(actor.team_id, asked.target_name)
        sent = await services.workflow.send_bump(actor.team_id, request_id, actor.user_id)
        await services.dispatcher.deliver(sent.message_ids)
        request = sent.request
    else:
        request = await services.workflow.check_requester(actor.team_id, request_id, actor.user_id)
    done = messages.notice(request, "secondary_offer_done", {"choice": "bump" if bump else "leave"})
    if not await replace_pressed_message(client, body, done):
        await tell_privately(services, client, body, actor.team_id, actor.user_id, done.text)


@tells_refusals
async def go_cold(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """After a dead end: the note becomes the requester's own first message to the target
    (in their DM), and this path ends there."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    request_id = pressed_request(action)
    earlier = await services.workflow.check_requester(actor.team_id, request_id, actor.user_id)
    await services.directory.keep_to_their_no(actor.team_id, earlier.target_name)
    requester = await known_teammate(services, client, actor.team_id, actor.user_id) or Teammate(
        user_id=actor.user_id
    )
    try:
        outcome = await services.workflow.go_cold(
            actor.team_id, requester, previous_request_id=request_id
        )
    except DuplicateSubmission:
        return  # pressed twice: the first press's message is on its way
    await services.dispatcher.deliver(outcome.message_ids)


async def new_request(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, logger: Logger
) -> None:
    await ack()
    view = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())
    await open_view(client, body["trigger_id"], view, logger)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.action(ActionId.ASK_SUGGESTED)(work.opens_modal(ask_suggested))
    app.action(ActionId.ASK_PERSON)(work.opens_modal(ask_person))
    # A dead end's paths, and the second-voice offer's teammates ("No response" is a dead
    # end like the others).
    app.action(ActionId.ASK_SECONDARY)(work.opens_modal(ask_secondary))
    app.action(ActionFamily.ASK_SECONDARY.pattern)(work.opens_modal(ask_secondary))
    app.action(ActionFamily.SECONDARY_ASK.pattern)(work.opens_modal(ask_secondary))
    for action_id in (ActionId.SECONDARY_BUMP, ActionId.SECONDARY_LEAVE):
        app.action(action_id)(work.tracked(secondary_offer_answered))
    app.action(ActionId.GO_COLD)(work.tracked(go_cold))
    app.action(ActionId.NEW_REQUEST)(work.opens_modal(new_request))
