"""The offer-help digest's buttons: Offer an intro (the offer form, prefilled with the account
and the rep whose list it is) and Not for me (that account, not again for a quarter)."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.digests import items_of
from bot.intro.offer_help import DigestItem
from bot.rendering import messages
from bot.rendering.ids import ActionId
from bot.rendering.values import DigestPick
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.context import actor_of, services_of
from handlers.pressed import pressed_value
from handlers.replies import open_view, replace_pressed_message
from storage.models import OutboundMessage


async def _pressed(
    services: Services, team_id: str, user_id: str, action: dict[str, Any]
) -> tuple[OutboundMessage, DigestItem] | None:
    """The digest and account a button names, if the digest is the presser's own."""
    pick = DigestPick.decode(pressed_value(action))
    if pick is None or services.digests is None:
        return None
    row = await services.digests.digest_row(team_id, pick.digest_id, user_id)
    items = items_of(row) if row is not None else []
    if row is None or pick.place >= len(items):
        return None
    return row, items[pick.place]


async def digest_offer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    """Offer an intro: the offer form with the account's company and the rep whose list it
    is (the first named; the team's list names none); whom they introduce is theirs to say."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    pressed = await _pressed(services, actor.team_id, actor.user_id, action)
    if pressed is None:
        return
    _, item = pressed
    rep = next((rep for rep in item.reps if rep), "")
    prefill = messages.OfferPrefill(
        rep_id=rep, company=item.company, from_digest=str(pressed_value(action))
    )
    await open_view(client, body["trigger_id"], messages.offer_modal(prefill), logger)


async def digest_not_for_me(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """Not for me: no digest brings the account up for a quarter; the digest says so."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    pressed = await _pressed(services, actor.team_id, actor.user_id, action)
    if pressed is None or services.digests is None:
        return
    row, item = pressed
    await services.digests.not_for_me(actor.team_id, actor.user_id, item.company_key)
    view = services.dispatcher.digests
    rendered = await view.render(row) if view is not None else None
    if rendered is not None:
        await replace_pressed_message(client, body, rendered)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.action(ActionId.DIGEST_OFFER)(work.opens_modal(digest_offer))
    app.action(ActionId.DIGEST_NOT_FOR_ME)(work.tracked(digest_not_for_me))
