"""Small Slack-side helpers shared by the listeners."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Unpack

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import slack_people
from bot.delivery.slack_people import SlackUsers
from bot.intro.directory import ContactInput
from bot.intro.states import Action, IllegalTransition
from bot.intro.validation import Teammate, review_offer
from bot.intro.workflow import (
    ActionDetails,
    NotYourRequest,
    OfferAlreadyMade,
    OfferAnswered,
    TransitionError,
    UnknownOffer,
    UnknownRequest,
)
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.wiring.app import Services
from storage.models import IntroRequest

logger = logging.getLogger(__name__)


USERS_PAGE = slack_people.USERS_PAGE
teammate_from = slack_people.teammate_from
display_name = slack_people.display_name


async def teammate(client: AsyncWebClient, user_id: str) -> Teammate | None:
    """Ask Slack about a user; None if Slack doesn't know them."""
    return await SlackUsers(client).user(user_id)


async def teammates(client: AsyncWebClient, *user_ids: str) -> list[Teammate | None]:
    return list(await asyncio.gather(*(teammate(client, uid) for uid in user_ids)))


def remembered(services: Services, team_id: str, user_ids: list[str]) -> dict[str, Teammate]:
    """Those of `user_ids` this process was told of lately (bot.intro.people)."""
    return services.people.remembered(team_id, user_ids)


async def known_teammates(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    *user_ids: str,
    stored: dict[str, Teammate] | None = None,
) -> list[Teammate | None]:
    """People looked up where it costs least (bot.intro.people); what Slack answered is
    stored, and the workspace's members listed when due, after the caller's ack."""
    source, later = SlackUsers(client), services.in_background
    return await services.people.look_up(source, team_id, *user_ids, stored=stored, later=later)


async def list_members(services: Services, client: AsyncWebClient, team_id: str) -> None:
    await services.people.list_members(SlackUsers(client), team_id)


async def profile_changed(
    services: Services, client: AsyncWebClient, team_id: str, user: dict[str, Any]
) -> None:
    """Slack sent a user's profile as it is now (user_change, team_join): keep it."""
    await services.people.changed(team_id, teammate_from(user))


async def known_teammate(
    services: Services, client: AsyncWebClient, team_id: str, user_id: str
) -> Teammate | None:
    """One person, looked up as known_teammates looks people up; None if Slack doesn't
    know them."""
    (person,) = await known_teammates(services, client, team_id, user_id)
    return person


async def time_zone_of(
    services: Services, client: AsyncWebClient, team_id: str, user_id: str
) -> str | None:
    """Someone's time zone (Slack's `tz`), or None when nobody can say right now: the
    callers fall back to UTC, off by a day at most, and only near midnight."""
    try:
        person = await known_teammate(services, client, team_id, user_id)
    except (SlackApiError, aiohttp.ClientError, TimeoutError):
        return None
    return (person.tz if person else "") or None


async def workspace_names(client: AsyncWebClient) -> dict[str, str]:
    """Everyone's display name, from users.list a page at a time."""
    return await SlackUsers(client).names()


def request_id_from(action: dict[str, Any]) -> int | None:
    """A button's request id: its value is "<id>" or "<id>:<detail>"."""
    head = str(action.get("value", "")).partition(":")[0]
    return int(head) if head.isdigit() else None


def required_request_id(action: dict[str, Any]) -> int:
    """A button's request id; UnknownRequest (refused like any gone request) when it has none."""
    request_id = request_id_from(action)
    if request_id is None:
        raise UnknownRequest(0)
    return request_id


def value_detail(action: dict[str, Any]) -> str:
    """The part after the request id in a button value such as "12:meeting_held"."""
    return str(action.get("value", "")).partition(":")[2]


def submitted_values(view: dict[str, Any]) -> dict[str, Any]:
    """A view's state as field -> value, whatever the element ("connector:U1" is "connector")."""
    flat: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        element = next(iter((actions or {}).values()), None) or {}
        option = element.get("selected_option") or {}
        flat[block_id.split(":", 1)[0]] = (
            element.get("selected_user")
            or element.get("selected_date")
            or option.get("value")
            or element.get("value")
            or ""
        )
    return flat


def from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


async def replace_pressed_message(
    client: AsyncWebClient, body: dict[str, Any], message: messages.Message
) -> bool:
    """Put `message` in place of the bot's message whose button was pressed; False when the
    press came from somewhere without one (a modal, the Home tab)."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if not (channel and ts):
        return False
    await client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
    return True


async def tell_privately(
    services: Services, client: AsyncWebClient, body: dict[str, Any], user_id: str, text: str
) -> None:
    """An ephemeral note where the user pressed; on App Home, the home view shows it; from a
    modal (no channel), a DM."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    if not channel:
        if from_home(body):
            await publish_home(services, client, team_of(body), user_id, notice=text)
        else:
            await client.chat_postMessage(channel=user_id, text=text)
        return
    try:
        await client.chat_postEphemeral(channel=channel, user=user_id, text=text)
    except SlackApiError as exc:
        # Not a member of that conversation (a forwarded or someone else's DM): DM them.
        logger.info("ephemeral note refused (%s); sending a DM", slack_error_code(exc))
        await client.chat_postMessage(channel=user_id, text=text)


def refusal_text(exc: TransitionError) -> str:
    if isinstance(exc, UnknownRequest):
        return messages.note("unknown")
    if isinstance(exc, UnknownOffer):
        return messages.note("offer_unknown")
    if isinstance(exc, OfferAnswered):
        return messages.note(f"offer_{exc.status.value}", connector=exc.connector_id)
    if isinstance(exc, NotYourRequest):
        return messages.note("not_yours", party=exc.party_id)
    if isinstance(exc, IllegalTransition):
        return messages.note("stale", status_label=messages.status_label(exc.status))
    return messages.note("invalid", detail=str(exc))


async def publish_home(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
    notice: str | None = None,
    contacts_page: int = 0,
    contacts_search: str = "",
) -> None:
    workflow, directory = services.workflow, services.directory
    # One session, one connection, for the whole page.
    async with services.sessions() as session:
        mine = await workflow.requests_by(team_id, user_id, session=session)
        waiting = await workflow.waiting_on(team_id, user_id, session=session)
        contact_page = await directory.contact_page(
            team_id, user_id, contacts_page, contacts_search, session=session
        )
        prefs = await directory.prefs(team_id, user_id, session=session)
        report = await services.attribution.report(team_id, user_id, session=session)
    view = messages.home_view(
        mine,
        waiting,
        first_time=not mine and not waiting and not contact_page.total,
        notice_text=notice,
        contact_page=contact_page,
        share_tie_details=bool(prefs.share_tie_details),
        funnel=messages.funnel_lines(report, user_id) if mine or waiting else None,
    )
    await client.views_publish(user_id=user_id, view=view)


def team_of(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or body.get("team_id") or "")


async def is_admin(services: Services, client: AsyncWebClient, team_id: str, user_id: str) -> bool:
    try:
        return await services.people.is_admin(SlackUsers(client), team_id, user_id)
    except SlackApiError:
        return False


async def act_and_deliver(
    services: Services,
    client: AsyncWebClient,
    body: dict[str, Any],
    request_id: int | None,
    action: Action,
    **details: Unpack[ActionDetails],
) -> None:
    """Apply a user's action, send what it promised, or tell them privately why not."""
    user_id = body["user"]["id"]
    team_id = team_of(body)
    try:
        if request_id is None:
            raise UnknownRequest(0)
        outcome = await services.workflow.act(
            team_id, request_id, user_id, action, lease=services.dispatcher.lease(), **details
        )
    except TransitionError as exc:
        await tell_privately(services, client, body, user_id, refusal_text(exc))
        return
    await services.dispatcher.deliver_outcome(outcome)
    if from_home(body):
        await publish_home(services, client, team_id, user_id)


async def open_view(
    client: AsyncWebClient, trigger_id: str, view: dict[str, Any], logger: logging.Logger
) -> dict[str, Any] | None:
    """Open a modal; the opened view (with its id and hash), or None if Slack said no."""
    try:
        response = await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", slack_error_code(exc))
        return None
    opened: dict[str, Any] = response["view"]
    return opened


async def open_intro_modal(
    client: AsyncWebClient,
    trigger_id: str,
    prefill: messages.ModalPrefill,
    context: messages.ModalContext,
    logger: logging.Logger,
    source_hint: str | None = None,
) -> dict[str, Any] | None:
    """Open the request form; the opened view, or None if Slack said no."""
    return await open_view(
        client, trigger_id, messages.intro_modal(prefill, context, source_hint), logger
    )


async def record_closeness(
    services: Services, team_id: str, request: IntroRequest, answer: str
) -> None:
    """The connector's own answer updates (or starts) their directory entry for the target."""
    closeness = str(messages.labels()["qualify"][answer]["closeness"])
    directory = services.directory
    tie = await directory.tie(
        team_id, request.connector_id, request.target_name, request.target_company
    )
    if tie is None:
        entry = ContactInput(request.target_name, request.target_company, closeness=closeness)
        await directory.add_contact(team_id, request.connector_id, entry)
        return
    # In place: the entry's email is on file only as a hash, which a blank email keeps.
    entry = ContactInput(tie.name, tie.company, tie.title, "", closeness, tie.since)
    await directory.update_contact(team_id, request.connector_id, tie.id, entry)


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
    rep = await known_teammate(services, client, team_id, rep_id) if rep_id else None
    if rep is None or rep.is_bot or rep.deleted:
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
