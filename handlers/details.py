"""Buttons that ask for details in a modal first (decline, suggest someone else or a better
person, not now, mention my name, the owner's edit of the note or their reason to hold off),
and those modals' submissions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.matching import same_person
from bot.intro.states import Action
from bot.intro.validation import HOW_KNOWN_MAX, say
from bot.intro.workflow import InvalidSuggestion
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
from handlers.support import active_person, time_zone_of
from storage.models import IntroRequest

Modal = Callable[[Services, IntroRequest], dict[str, Any]]

# Button -> the action it leads to, and the modal that asks for its details.
MODAL_ACTIONS: dict[ActionId, tuple[Action, Modal]] = {
    ActionId.DECLINE: (Action.DECLINE, lambda _, request: messages.decline_modal(request)),
    ActionId.REDIRECT: (Action.REDIRECT, lambda _, request: messages.redirect_modal(request)),
    # The account owner says why, and the requester hears it.
    ActionId.OWNER_DECLINE: (
        Action.OWNER_DECLINE,
        lambda _, request: messages.owner_decline_modal(request),
    ),
    ActionId.OWNER_EDIT: (
        Action.OWNER_APPROVE,
        lambda _, request: messages.owner_edit_modal(request),
    ),
    # "Mention my name": how they know the target, for the requester's message.
    ActionId.MENTION_NAME: (
        Action.MENTION_NAME,
        lambda _, request: messages.mention_name_modal(request),
    ),
    # The connector's line in the intro email, while they check with the target.
    ActionId.EDIT_INTRO_LINE: (
        Action.TARGET_AGREED,
        lambda _, request: messages.intro_line_modal(request),
    ),
    # The target said not now: the day to ask them again, counted from today.
    ActionId.TARGET_NOT_NOW: (
        Action.TARGET_NOT_NOW,
        lambda services, request: messages.not_now_modal(request, services.clock.now().date()),
    ),
}


@tells_refusals
async def open_details(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """Check the action is still possible before asking for its details in a modal."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    workflow_action, modal = MODAL_ACTIONS[ActionId(action["action_id"])]
    request = await services.workflow.check(
        actor.team_id, pressed_request(action), actor.user_id, workflow_action
    )
    await open_view(client, body["trigger_id"], modal(services, request), logger)


@dataclass(frozen=True)
class OneField:
    """A modal that asks for one field before its action: the field's block (the action's
    detail of the same name), the phrase said when it is left empty (None: it may be), and
    how its words are tidied."""

    action: Action
    field: str
    required: str | None = None
    tidy: Callable[[str], str] = str


def _one_line(text: str) -> str:
    return " ".join(text.split())


ONE_FIELD: dict[str, OneField] = {
    # The connector's optional kind word.
    CallbackId.DECLINE_MODAL: OneField(Action.DECLINE, "reason"),
    # The account owner must say why: the requester hears it.
    CallbackId.OWNER_DECLINE_MODAL: OneField(
        Action.OWNER_DECLINE, "reason", "owner_reason_missing", _one_line
    ),
    CallbackId.OWNER_EDIT_MODAL: OneField(
        Action.OWNER_APPROVE, "blurb", "blurb_missing", str.strip
    ),
    CallbackId.MENTION_NAME_MODAL: OneField(
        Action.MENTION_NAME, "how_known", tidy=lambda text: text[:HOW_KNOWN_MAX]
    ),
}


@tells_refusals
async def one_field_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    form = ONE_FIELD[view["callback_id"]]
    words = form.tidy(str(submitted_values(view).get(form.field) or ""))
    if form.required and not words:
        await ack(response_action="errors", errors={form.field: say(form.required)})
        return
    await ack()
    details: dict[str, Any] = {form.field: words}
    await act_and_deliver(context, client, body, request_of(view), form.action, **details)


@tells_refusals
async def not_now_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    services, actor = services_of(context), actor_of(context)
    day = str(submitted_values(view).get("ask_again_on") or "")
    # "After today" as the connector's calendar has it: late in the day in the Americas,
    # UTC is already on tomorrow.
    tz_name = await time_zone_of(services, client, actor.team_id, actor.user_id)
    try:
        services.workflow.valid_ask_again_on(day, tz_name)
    except InvalidSuggestion:
        await ack(response_action="errors", errors={"ask_again_on": say("ask_again_past")})
        return
    await ack()
    await act_and_deliver(
        context,
        client,
        body,
        request_of(view),
        Action.TARGET_NOT_NOW,
        ask_again_on=day,
        tz_name=tz_name,
    )


@tells_refusals
async def intro_line_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """The connector's line is stored; their card, and their Home tab, which shows the same
    email, carry it."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    line = str(submitted_values(view).get("intro_line") or "")
    outcome = await services.workflow.edit_intro_line(
        actor.team_id, request_of(view), actor.user_id, line
    )
    await services.dispatcher.deliver_outcome(outcome)
    await publish_home(services, client, actor.team_id, actor.user_id)


async def suggestion_problem(
    context: AsyncBoltContext, client: AsyncWebClient, user_id: str
) -> str | None:
    """Why the teammate suggested instead can't be asked (a bot, nobody, the connector
    themselves), in the form's words; None when they can."""
    services, actor = services_of(context), actor_of(context)
    suggested = await active_person(services, client, actor.team_id, user_id)
    if suggested is None:
        return say("suggest_not_human")
    if suggested.user_id == actor.user_id:
        return say("suggest_self")
    return None


async def better_person_problem(
    context: AsyncBoltContext, view: dict[str, Any], suggested_id: str, person: str
) -> dict[str, str]:
    """What keeps a better person from being suggested, by field: a teammate picked too (one
    suggestion at a time), or the very person who was asked for."""
    if suggested_id:
        return {"person_name": say("suggest_both")}
    services, actor = services_of(context), actor_of(context)
    request = await services.workflow.get(actor.team_id, request_of(view))
    if request is not None and same_person(request.target_name, person):
        return {"person_name": say("suggest_same_person", target=request.target_name)}
    return {}


@tells_refusals
async def redirect_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """ "Suggest someone else": a teammate to ask instead, or a better person to talk to than
    the target (not a teammate: a name, their role and company)."""
    values = submitted_values(view)
    suggested_id = str(values.get("suggested_user") or "")
    person = str(values.get("person_name") or "").strip()
    note = str(values.get("note") or "")
    if person:
        problems = await better_person_problem(context, view, suggested_id, person)
        if problems:
            await ack(response_action="errors", errors=problems)
            return
        await ack()
        await act_and_deliver(
            context,
            client,
            body,
            request_of(view),
            Action.SUGGEST_PERSON,
            suggested_name=person,
            suggested_title=str(values.get("person_title") or ""),
            suggested_company=str(values.get("person_company") or ""),
            note=note,
        )
        return
    if not suggested_id:
        await ack(response_action="errors", errors={"suggested_user": say("suggest_one")})
        return
    problem = await suggestion_problem(context, client, suggested_id)
    if problem is not None:
        await ack(response_action="errors", errors={"suggested_user": problem})
        return
    await ack()
    await act_and_deliver(
        context,
        client,
        body,
        request_of(view),
        Action.REDIRECT,
        suggested_user_id=suggested_id,
        note=note,
    )


def register(app: AsyncApp, work: WorkQueue) -> None:
    for action_id in MODAL_ACTIONS:
        app.action(action_id)(work.opens_modal(open_details))
    for callback_id in ONE_FIELD:
        app.view(callback_id)(work.tracked(one_field_submitted))
    app.view(CallbackId.NOT_NOW_MODAL)(work.tracked(not_now_submitted))
    app.view(CallbackId.INTRO_LINE_MODAL)(work.tracked(intro_line_submitted))
    app.view(CallbackId.REDIRECT_MODAL)(work.tracked(redirect_submitted))
