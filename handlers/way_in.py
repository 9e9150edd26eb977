"""An ask for a way in at a company: the connector's Accept opens a modal to pick the person
(from their own contacts there, or typed), and the pick is accepted as the target."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.states import Action, TransitionError
from bot.intro.validation import TARGET_NAME_MAX, say
from bot.rendering import messages
from bot.rendering.ids import ActionId, CallbackId
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.buttons import act_and_deliver
from handlers.context import actor_of, services_of
from handlers.forms import request_of, submitted_values
from handlers.pressed import pressed_request
from handlers.refusals import tells_refusals
from handlers.replies import open_view
from storage.models import IntroRequest


@tells_refusals
async def accept_way_in(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """Accept, for an ask for a way in: first, whom they will ask there."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    request = await services.workflow.check(
        actor.team_id, pressed_request(action), actor.user_id, Action.ACCEPT
    )
    # Their own contacts at the company, shown to them alone.
    contacts = await services.directory.contacts_at(
        actor.team_id, actor.user_id, request.target_company
    )
    await open_view(client, body["trigger_id"], messages.way_in_modal(request, contacts), logger)


async def picked_person(
    services: Services, team_id: str, connector_id: str, values: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """The person the connector picked, from their list or typed; or the form's errors."""
    chosen = str(values.get("contact") or "")
    typed = " ".join(str(values.get("person") or "").split())[:TARGET_NAME_MAX]
    if chosen and typed:
        return "", {"person": say("way_in_both")}
    if typed:
        return typed, {}
    contact = (
        await services.directory.contact(team_id, connector_id, int(chosen))
        if chosen.isdigit()
        else None
    )
    if contact is None:
        return "", {"person": say("way_in_missing")}
    return contact.name, {}


async def pick_problem(services: Services, request: IntroRequest, person: str) -> str | None:
    """What stops asking this person, now that they are known: their no that still holds
    (whoever asked: a way in never leads back to them), or the requester's own open ask for
    them already."""
    found = await services.directory.review_ask(
        request.team_id,
        request.requester_id,
        request.connector_id,
        person,
        request.target_company,
        replaces_id=request.id,
        ties=False,
    )
    if found.target_declined is not None:
        return say("way_in_declined", **messages.declined_words(found))
    if found.mine is not None:
        return say("way_in_duplicate", target=person)
    return None


@tells_refusals
async def way_in_picked(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    services, actor = services_of(context), actor_of(context)
    request_id = request_of(view)
    try:
        request = await services.workflow.check(
            actor.team_id, request_id, actor.user_id, Action.ACCEPT
        )
    except TransitionError:
        await ack()  # the modal closes; they are told why privately
        raise
    person, errors = await picked_person(
        services, actor.team_id, actor.user_id, submitted_values(view)
    )
    problem = await pick_problem(services, request, person) if person else None
    if problem:
        errors = {"person": problem}
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    await act_and_deliver(context, client, body, request_id, Action.ACCEPT, picked_name=person)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.action(ActionId.ACCEPT_WAY_IN)(work.opens_modal(accept_way_in))
    app.view(CallbackId.WAY_IN_MODAL)(work.tracked(way_in_picked))
