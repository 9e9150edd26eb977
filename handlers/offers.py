"""Offer an intro: a connector who thinks a teammate should meet someone says so (the Home
tab's form, or `/intro offer`); the teammate takes it or passes."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.validation import review_offer, say
from bot.intro.workflow import OfferAlreadyMade
from bot.rendering import messages
from bot.rendering.ids import ActionId, CallbackId
from bot.rendering.templating import trusted_mrkdwn
from bot.rendering.values import DigestPick
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.context import actor_of, services_of
from handlers.forms import submitted_values
from handlers.pressed import pressed_offer
from handlers.refusals import tells_refusals
from handlers.replies import open_view, publish_home
from handlers.support import active_person

# The offer form's words for why its teammate can't be offered an intro (rep_problem).
FORM_WORDS = {"offer_self": "offer_self", "offer_not_human": "suggest_not_human"}


async def offer_intro(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    connector_id: str,
    rep_id: str,
    target_name: str,
    company: str,
    reason: str = "",
) -> str:
    """A connector offers a teammate an intro with `/intro offer`; what to tell the connector.
    Refused: themselves, a bot or an unknown or deactivated user, or an offer that says too
    little."""
    words = {"rep": rep_id, "name": target_name, "company": company}
    problem = await rep_problem(services, client, team_id, connector_id, rep_id)
    if problem is not None:
        return messages.command_reply(problem, **words)
    review = review_offer(target_name, company, reason)
    if not review.ok:
        return " ".join(review.errors.values())
    return await send_offer(services, team_id, connector_id, rep_id, target_name, company, reason)


async def rep_problem(
    services: Services, client: AsyncWebClient, team_id: str, connector_id: str, rep_id: str
) -> str | None:
    """Why this teammate can't be offered an intro by this connector ("offer_self",
    "offer_not_human"), or None."""
    if rep_id == connector_id:
        return "offer_self"
    if await active_person(services, client, team_id, rep_id) is None:
        return "offer_not_human"
    return None


async def send_offer(
    services: Services,
    team_id: str,
    connector_id: str,
    rep_id: str,
    target_name: str,
    company: str,
    reason: str,
) -> str:
    """Record a checked offer and send it; what to tell the connector."""
    words = {"rep": rep_id, "name": target_name, "company": company}
    try:
        outcome = await services.workflow.offer(
            team_id, connector_id, rep_id, target_name, company, reason
        )
    except OfferAlreadyMade:
        return messages.command_reply("offer_again", **words)
    await services.dispatcher.deliver(outcome.message_ids)
    return messages.command_reply("offer_sent", **words)


async def offer_open(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, logger: Logger
) -> None:
    await ack()
    await open_view(client, body["trigger_id"], messages.offer_modal(), logger)


async def offer_submitted(
    ack: AsyncAck,
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    services, actor = services_of(context), actor_of(context)
    values = submitted_values(view)
    rep_id = str(values.get("rep") or "")
    name = str(values.get("target_name") or "").strip()
    company = str(values.get("target_company") or "").strip()
    reason = str(values.get("reason") or "").strip()
    errors = dict(review_offer(name, company, reason).errors)
    if not reason:
        errors["reason"] = say("offer_reason_missing")
    problem = await rep_problem(services, client, actor.team_id, actor.user_id, rep_id)
    if problem is not None:
        errors["rep"] = say(FORM_WORDS[problem])
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    reply = await send_offer(services, actor.team_id, actor.user_id, rep_id, name, company, reason)
    # Rendered mrkdwn already (what was typed is escaped in it): its mention stays one.
    notice = trusted_mrkdwn(reply)
    if DigestPick.decode(view.get("private_metadata")) is not None:
        # Offered from their digest, in their DM: the answer goes there too.
        await client.chat_postMessage(channel=actor.user_id, text=notice)
        return
    await publish_home(services, client, actor.team_id, actor.user_id, notice=notice)


@tells_refusals
async def take_offer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """Take it: the request form, prefilled from the offer, with its connector chosen."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    offer = await services.workflow.open_offer(actor.team_id, pressed_offer(action), actor.user_id)
    view = messages.intro_modal(
        messages.ModalPrefill(
            connector_id=offer.connector_id,
            target_name=offer.target_name,
            target_company=offer.company,
            reason=offer.reason,
        ),
        messages.ModalContext(offer_id=offer.id, offered_by=offer.connector_id),
    )
    await open_view(client, body["trigger_id"], view, logger)


@tells_refusals
async def pass_offer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """No thanks: the connector hears it kindly; the offer's card says so."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    outcome = await services.workflow.pass_offer(
        actor.team_id, pressed_offer(action), actor.user_id
    )
    await services.dispatcher.deliver(outcome.message_ids)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.action(ActionId.OFFER_OPEN)(work.opens_modal(offer_open))
    app.view(CallbackId.OFFER_MODAL)(work.tracked(offer_submitted))
    app.action(ActionId.OFFER_TAKE)(work.opens_modal(take_offer))
    app.action(ActionId.OFFER_PASS)(work.tracked(pass_offer))
