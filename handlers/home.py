"""App Home's own controls: the people I know, how often I may be asked, and whether an
old tie still holds."""

from __future__ import annotations

from datetime import date
from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.contacts import ContactInput
from bot.intro.states import Status
from bot.intro.validation import review_company, review_contact, say
from bot.intro.workflow import TransitionError
from bot.rendering import messages
from bot.rendering.digests import period_words
from bot.rendering.ids import ActionId, CallbackId
from bot.rendering.values import HomePosition, TieCheck, row_id
from bot.services.work_queue import WorkQueue
from handlers.buttons import LAPSED_ANSWER
from handlers.context import actor_of, services_of
from handlers.forms import submitted_values
from handlers.replies import open_view, publish_home, replace_pressed_message


def _count(text: str) -> int | None:
    return int(text) if str(text).strip().isdigit() else None


def _home_position(body: dict[str, Any]) -> HomePosition:
    """Where the Home tab pressed in was: its view's metadata."""
    return HomePosition.decode((body.get("view") or {}).get("private_metadata"))


async def publish_home_at(
    context: AsyncBoltContext, client: AsyncWebClient, position: HomePosition
) -> None:
    """The Home tab again, its contact list on `position`'s page and search."""
    actor = actor_of(context)
    await publish_home(
        services_of(context),
        client,
        actor.team_id,
        actor.user_id,
        contacts_page=position.page,
        contacts_search=position.search,
    )


async def contact_add(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, logger: Logger
) -> None:
    await ack()
    await open_view(client, body["trigger_id"], messages.contact_modal(), logger)


async def pacing_open(
    ack: AsyncAck,
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    await ack()
    actor = actor_of(context)
    directory = services_of(context).directory
    prefs = await directory.prefs(actor.team_id, actor.user_id)
    default = await directory.workspace_pacing(actor.team_id)
    every = period_words(services_of(context).settings.digest_every)
    view = messages.pacing_modal(prefs, default, every)
    await open_view(client, body["trigger_id"], view, logger)


async def contact_delete(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    await ack()
    actor = actor_of(context)
    contact_id = row_id(action.get("value", ""))
    if contact_id is not None:
        # Scoped to the presser: nobody can remove someone else's contact.
        await services_of(context).directory.delete_contact(
            actor.team_id, actor.user_id, contact_id
        )
    await publish_home_at(context, client, _home_position(body))


def contact_entry(values: dict[str, Any]) -> ContactInput:
    since = values.get("since")
    return ContactInput(
        name=str(values.get("name") or "").strip(),
        company=str(values.get("company") or ""),
        title=str(values.get("title") or ""),
        email=str(values.get("email") or ""),
        closeness=str(values.get("closeness") or "know_well"),
        since=date.fromisoformat(since) if since else None,
    )


async def contact_saved(
    ack: AsyncAck,
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    services, actor = services_of(context), actor_of(context)
    # An edit carries "<contact id>:<page>:<search>"; adding someone carries nothing.
    editing, _, back_to = str(view.get("private_metadata") or "").partition(":")
    entry = contact_entry(submitted_values(view))
    if not entry.name:
        await ack(response_action="errors", errors={"name": say("contact_name_missing")})
        return
    review = review_contact(entry.name, entry.company, entry.title, entry.email)
    if not review.ok:
        await ack(response_action="errors", errors=review.errors)
        return
    contact_id = row_id(editing)
    if contact_id is None:
        await ack()
        await services.directory.add_contact(actor.team_id, actor.user_id, entry)
        await publish_home(services, client, actor.team_id, actor.user_id)
        return
    saved = await services.directory.update_contact(actor.team_id, actor.user_id, contact_id, entry)
    if saved == "duplicate":
        await ack(response_action="errors", errors={"name": say("contact_duplicate")})
        return
    await ack()  # saved, or removed meanwhile: the Home tab shows which
    await publish_home_at(context, client, HomePosition.decode(back_to))


async def pacing_saved(
    ack: AsyncAck,
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    services, actor = services_of(context), actor_of(context)
    values = submitted_values(view)
    blocked = [
        line.strip()
        for line in str(values.get("blocked_companies") or "").splitlines()
        if line.strip()
    ]
    problem = next(filter(None, map(review_company, blocked)), None)
    if problem:
        await ack(response_action="errors", errors={"blocked_companies": problem})
        return
    await ack()
    prefs = await services.directory.prefs(actor.team_id, actor.user_id)
    prefs.max_open = _count(values.get("max_open", ""))
    prefs.max_per_30_days = _count(values.get("max_per_30_days", ""))
    snooze = values.get("snoozed_until")
    prefs.snoozed_until = date.fromisoformat(snooze) if snooze else None
    prefs.blocked_companies = blocked
    if values.get("offer_help") in ("on", "off"):
        prefs.offer_help = values["offer_help"] == "on"
    await services.directory.save_prefs(prefs)
    await publish_home(services, client, actor.team_id, actor.user_id)


async def contact_search(
    ack: AsyncAck,
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    await ack()
    search = str(action.get("value") or "")
    await publish_home_at(context, client, HomePosition(search=search))


async def contact_pages(
    ack: AsyncAck,
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    await ack()
    await publish_home_at(context, client, HomePosition.decode(action.get("value")))


async def contact_edit(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    # Scoped to the presser: nobody can open someone else's contact.
    contact_id = row_id(action.get("value", ""))
    contact = (
        await services.directory.contact(actor.team_id, actor.user_id, contact_id)
        if contact_id is not None
        else None
    )
    if contact is None:
        await publish_home(services, client, actor.team_id, actor.user_id)
        return
    modal = messages.contact_modal(contact, back_to=_home_position(body).encode())
    await open_view(client, body["trigger_id"], modal, logger)


async def contacts_delete_all(
    ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    deleted = await services.directory.delete_all_contacts(actor.team_id, actor.user_id)
    notice = messages.command_reply("contacts_deleted", rows=deleted)
    await publish_home(services, client, actor.team_id, actor.user_id, notice=notice)


async def share_details(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    await ack()
    actor = actor_of(context)
    share = action.get("value") == "on"
    await services_of(context).directory.set_share_tie_details(actor.team_id, actor.user_id, share)
    await publish_home_at(context, client, _home_position(body))


async def tie_answered(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """The connector says whether an old tie still holds; the directory learns it. Not in
    touch any more: the tie is recorded as lapsed, and while the ask still waits on them it
    is as if they had answered "would they take your call?" with "not really": the card's
    advice turns to declining or suggesting someone else."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    tie = TieCheck.decode(action.get("value", ""))
    if tie is None:
        return
    still = action["action_id"] == ActionId.TIE_YES
    await services.directory.confirm_tie(actor.team_id, actor.user_id, tie.contact_id, still)
    request = await services.workflow.get(actor.team_id, tie.request_id)
    if request is None or request.connector_id != actor.user_id:
        return
    if not still and request.status == Status.AWAITING_CONNECTOR:
        try:
            outcome = await services.workflow.qualify(
                actor.team_id, request.id, actor.user_id, LAPSED_ANSWER
            )
        except TransitionError:
            pass  # moved on meanwhile: the card, refreshed by that move, says where it is
        else:
            await services.dispatcher.deliver(outcome.message_ids)  # the card, refreshed
            return
    # Confirmed now: the card, where it was pressed, asks no more.
    await replace_pressed_message(client, body, await services.dispatcher.connector_card(request))


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.action(ActionId.CONTACT_ADD)(work.opens_modal(contact_add))
    app.action(ActionId.PACING_OPEN)(work.opens_modal(pacing_open))
    app.action(ActionId.CONTACT_DELETE)(work.tracked(contact_delete))
    app.view(CallbackId.CONTACT_MODAL)(work.tracked(contact_saved))
    app.view(CallbackId.PACING_MODAL)(work.tracked(pacing_saved))
    app.action(ActionId.CONTACT_SEARCH)(work.tracked(contact_search))
    for action_id in (ActionId.CONTACTS_NEXT, ActionId.CONTACTS_PREVIOUS):
        app.action(action_id)(work.tracked(contact_pages))
    app.action(ActionId.CONTACT_EDIT)(work.opens_modal(contact_edit))
    app.action(ActionId.CONTACTS_DELETE_ALL)(work.tracked(contacts_delete_all))
    app.action(ActionId.SHARE_DETAILS)(work.tracked(share_details))
    for action_id in (ActionId.TIE_YES, ActionId.TIE_NO):
        app.action(action_id)(work.tracked(tie_answered))
