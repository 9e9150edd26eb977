"""App Home's own controls: the people I know, and how often I may be asked."""

from __future__ import annotations

import re
from datetime import date
from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.directory import ContactInput
from bot.intro.validation import review_company, review_contact, review_offer, say
from bot.rendering import messages
from bot.rendering.templating import trusted_mrkdwn
from bot.wiring.app import Services
from handlers.support import (
    open_view,
    publish_home,
    rep_problem,
    replace_pressed_message,
    send_offer,
    submitted_values,
)

# The offer form's words for why its teammate can't be offered an intro (rep_problem).
FORM_WORDS = {"offer_self": "offer_self", "offer_not_human": "suggest_not_human"}


def _count(text: str) -> int | None:
    return int(text) if str(text).strip().isdigit() else None


def _row_id(text: str) -> int | None:
    """An id or page number from a button's value: ASCII digits only (str.isdigit accepts "²",
    which int() refuses), and small enough for the database."""
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def _position(text: str) -> tuple[int, str]:
    """A Home tab position, "<page>:<search>" (a paging button's value, the view's metadata)."""
    page, _, search = str(text or "").partition(":")
    return _row_id(page) or 0, search


def _home_position(body: dict[str, Any]) -> tuple[int, str]:
    return _position((body.get("view") or {}).get("private_metadata") or "")


async def _publish_where_pressed(
    services: Services, client: AsyncWebClient, body: dict[str, Any], team_id: str, user_id: str
) -> None:
    """The Home tab again, on the page and search the press came from."""
    page, search = _home_position(body)
    await publish_home(
        services, client, team_id, user_id, contacts_page=page, contacts_search=search
    )


def register(app: AsyncApp, services: Services) -> None:
    register_tie_buttons(app, services)
    register_contact_list(app, services)
    register_offer(app, services)

    @app.action("intro_contact_add")
    @services.work.opens_modal
    async def contact_add(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, logger: Logger
    ) -> None:
        await ack()
        await open_view(client, body["trigger_id"], messages.contact_modal(), logger)

    @app.action("intro_pacing_open")
    @services.work.opens_modal
    async def pacing_open(
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        await ack()
        prefs = await services.directory.prefs(context.team_id or "", body["user"]["id"])
        await open_view(client, body["trigger_id"], messages.pacing_modal(prefs), logger)

    @app.action("intro_contact_delete")
    @services.work.tracked
    async def contact_delete(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        value = str(action.get("value", ""))
        team_id, user_id = context.team_id or "", body["user"]["id"]
        contact_id = _row_id(value)
        if contact_id is not None:
            # Scoped to the presser: nobody can remove someone else's contact.
            await services.directory.delete_contact(team_id, user_id, contact_id)
        await _publish_where_pressed(services, client, body, team_id, user_id)

    @app.view("intro_contact_modal")
    @services.work.tracked
    async def contact_saved(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        # An edit carries "<contact id>:<page>:<search>"; adding someone carries nothing.
        editing, _, back_to = str(view.get("private_metadata") or "").partition(":")
        values = submitted_values(view)
        since = values.get("since")
        entry = ContactInput(
            name=str(values.get("name") or "").strip(),
            company=str(values.get("company") or ""),
            title=str(values.get("title") or ""),
            email=str(values.get("email") or ""),
            closeness=str(values.get("closeness") or "know_well"),
            since=date.fromisoformat(since) if since else None,
        )
        if not entry.name:
            await ack(response_action="errors", errors={"name": say("contact_name_missing")})
            return
        review = review_contact(entry.name, entry.company, entry.title, entry.email)
        if not review.ok:
            await ack(response_action="errors", errors=review.errors)
            return
        team_id, user_id = context.team_id or "", body["user"]["id"]
        contact_id = _row_id(editing)
        if contact_id is not None:
            saved = await services.directory.update_contact(team_id, user_id, contact_id, entry)
            if saved == "duplicate":
                await ack(response_action="errors", errors={"name": say("contact_duplicate")})
                return
            await ack()  # saved, or removed meanwhile: the Home tab shows which
            page, search = _position(back_to)
            await publish_home(
                services, client, team_id, user_id, contacts_page=page, contacts_search=search
            )
            return
        await ack()
        await services.directory.add_contact(team_id, user_id, entry)
        await publish_home(services, client, team_id, user_id)

    @app.view("intro_pacing_modal")
    @services.work.tracked
    async def pacing_saved(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
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
        team_id, user_id = context.team_id or "", body["user"]["id"]
        prefs = await services.directory.prefs(team_id, user_id)
        prefs.max_open = _count(values.get("max_open", ""))
        prefs.max_per_30_days = _count(values.get("max_per_30_days", ""))
        snooze = values.get("snoozed_until")
        prefs.snoozed_until = date.fromisoformat(snooze) if snooze else None
        prefs.blocked_companies = blocked
        await services.directory.save_prefs(prefs)
        await publish_home(services, client, team_id, user_id)


def register_offer(app: AsyncApp, services: Services) -> None:
    """Offer an intro: a connector who thinks a teammate should meet someone says so."""

    @app.action("intro_offer_open")
    @services.work.opens_modal
    async def offer_open(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, logger: Logger
    ) -> None:
        await ack()
        await open_view(client, body["trigger_id"], messages.offer_modal(), logger)

    @app.view("intro_offer_modal")
    @services.work.tracked
    async def offer_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        values = submitted_values(view)
        user_id, team_id = body["user"]["id"], context.team_id or ""
        rep_id = str(values.get("rep") or "")
        name = str(values.get("target_name") or "").strip()
        company = str(values.get("target_company") or "").strip()
        reason = str(values.get("reason") or "").strip()
        errors = dict(review_offer(name, company, reason).errors)
        if not reason:
            errors["reason"] = say("offer_reason_missing")
        problem = await rep_problem(services, client, team_id, user_id, rep_id)
        if problem is not None:
            errors["rep"] = say(FORM_WORDS[problem])
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        reply = await send_offer(services, team_id, user_id, rep_id, name, company, reason)
        # Rendered mrkdwn already (what was typed is escaped in it): its mention stays one.
        await publish_home(services, client, team_id, user_id, notice=trusted_mrkdwn(reply))


def register_contact_list(app: AsyncApp, services: Services) -> None:
    """The Home tab's list of people I know: search, pages, edit, delete all, sharing."""

    @app.action("intro_contact_search")
    @services.work.tracked
    async def contact_search(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        await publish_home(
            services,
            client,
            context.team_id or "",
            body["user"]["id"],
            contacts_search=str(action.get("value") or ""),
        )

    @app.action(re.compile(r"^intro_contacts_(next|previous)$"))
    @services.work.tracked
    async def contact_pages(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        page, search = _position(str(action.get("value") or ""))
        await publish_home(
            services,
            client,
            context.team_id or "",
            body["user"]["id"],
            contacts_page=page,
            contacts_search=search,
        )

    @app.action("intro_contact_edit")
    @services.work.opens_modal
    async def contact_edit(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        await ack()
        value = str(action.get("value", ""))
        team_id, user_id = context.team_id or "", body["user"]["id"]
        # Scoped to the presser: nobody can open someone else's contact.
        contact_id = _row_id(value)
        contact = (
            await services.directory.contact(team_id, user_id, contact_id)
            if contact_id is not None
            else None
        )
        if contact is None:
            await publish_home(services, client, team_id, user_id)
            return
        page, search = _home_position(body)
        modal = messages.contact_modal(contact, back_to=f"{page}:{search}")
        await open_view(client, body["trigger_id"], modal, logger)

    @app.action("intro_contacts_delete_all")
    @services.work.tracked
    async def contacts_delete_all(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        team_id, user_id = context.team_id or "", body["user"]["id"]
        deleted = await services.directory.delete_all_contacts(team_id, user_id)
        notice = messages.command_reply("contacts_deleted", rows=deleted)
        await publish_home(services, client, team_id, user_id, notice=notice)

    @app.action("intro_share_details")
    @services.work.tracked
    async def share_details(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        team_id, user_id = context.team_id or "", body["user"]["id"]
        share = action.get("value") == "on"
        await services.directory.set_share_tie_details(team_id, user_id, share)
        await _publish_where_pressed(services, client, body, team_id, user_id)


def register_tie_buttons(app: AsyncApp, services: Services) -> None:
    @app.action(re.compile(r"^intro_tie_(yes|no)$"))
    @services.work.tracked
    async def tie_answered(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        """The connector says whether an old tie still holds; the directory learns it."""
        await ack()
        contact_part, _, request_part = str(action.get("value", "")).partition(":")
        team_id, user_id = context.team_id or "", body["user"]["id"]
        contact_id, request_id = _row_id(contact_part), _row_id(request_part)
        if contact_id is None or request_id is None:
            return
        await services.directory.confirm_tie(
            team_id, user_id, contact_id, action["action_id"] == "intro_tie_yes"
        )
        request = await services.workflow.get(team_id, request_id)
        if request is None or request.connector_id != user_id:
            return
        # Confirmed now: the card, where it was pressed, asks no more.
        await replace_pressed_message(client, body, messages.connector_card(request))
