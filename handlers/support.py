"""Small Slack-side helpers shared by the listeners."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from datetime import datetime
from typing import Any, Unpack

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

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


# users.info answers change rarely; a few minutes' memory spares Slack (and the 3-second
# ack of a submission) a call per person per request.
PROFILE_TTL = 300.0
PROFILE_CACHE_SIZE = 10_000
USERS_PAGE = 200  # users.list members per call, as Slack recommends
_profiles: weakref.WeakKeyDictionary[object, dict[str, tuple[float, Teammate]]] = (
    weakref.WeakKeyDictionary()
)


def _profile_cache(client: AsyncWebClient) -> dict[str, tuple[float, Teammate]]:
    # Bolt builds a new client for every request, so a cache per client would never be hit
    # twice. The clients share the app's HTTP session (Services.open_http), which lives as
    # long as the app: the cache lives with it.
    owner: object = client.session if client.session is not None else client
    return _profiles.setdefault(owner, {})


async def teammate(client: AsyncWebClient, user_id: str) -> Teammate | None:
    """Look a user up; None if Slack doesn't know them."""
    profiles = _profile_cache(client)
    cached = profiles.get(user_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    try:
        response = await client.users_info(user=user_id)
    except SlackApiError as exc:
        if slack_error_code(exc) == "user_not_found":
            return None
        raise
    found = teammate_from(response["user"])
    _keep(profiles, found)
    return found


def teammate_from(user: dict[str, Any]) -> Teammate:
    """A Slack user object (users.info, users.list, user_change) as the workflow needs it."""
    profile = user.get("profile") or {}
    return Teammate(
        user_id=str(user["id"]),
        name=display_name(user),
        is_bot=bool(user.get("is_bot")) or user["id"] == "USLACKBOT",
        deleted=bool(user.get("deleted")),
        title=str(profile.get("title") or ""),
        email=str(profile.get("email") or ""),
        tz=str(user.get("tz") or ""),
    )


def _keep(profiles: dict[str, tuple[float, Teammate]], person: Teammate) -> None:
    if len(profiles) >= PROFILE_CACHE_SIZE:
        profiles.clear()
    profiles[person.user_id] = (time.monotonic() + PROFILE_TTL, person)


def remembered(client: AsyncWebClient, user_ids: list[str]) -> dict[str, Teammate]:
    """Those of `user_ids` this process looked up in the last PROFILE_TTL seconds."""
    profiles = _profile_cache(client)
    now = time.monotonic()
    found: dict[str, Teammate] = {}
    for user_id in user_ids:
        cached = profiles.get(user_id)
        if cached is not None and cached[0] > now:
            found[user_id] = cached[1]
    return found


async def known_teammates(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    *user_ids: str,
    stored: dict[str, Teammate] | None = None,
) -> list[Teammate | None]:
    """Look people up where it costs least: this process's memory, then the profiles every
    replica shares (one read for all; `stored` when the caller has read them already, as a
    submission's review does), then users.info for whoever is in neither. What Slack
    answered is stored, and the workspace's members listed when due, after the caller's ack."""
    found: dict[str, Teammate | None] = dict(remembered(client, list(user_ids)))
    missing = [user_id for user_id in dict.fromkeys(user_ids) if user_id not in found]
    if not missing:
        return [found[user_id] for user_id in user_ids]
    if stored is None:
        stored = await _stored(services, team_id, missing)
    profiles = _profile_cache(client)
    for person in stored.values():
        _keep(profiles, person)
    found.update(stored)
    asked = [user_id for user_id in missing if user_id not in found]
    said_at = services.profiles.now()
    answers = await teammates(client, *asked) if asked else []
    found.update(zip(asked, answers, strict=True))
    answered = [person for person in answers if person is not None]
    listing = bool(team_id) and services.profiles.may_list(team_id)
    if team_id and (answered or listing):
        services.in_background(
            _store_profiles(services, client, team_id, answered, said_at, listing=listing)
        )
    return [found[user_id] for user_id in user_ids]


async def _stored(services: Services, team_id: str, user_ids: list[str]) -> dict[str, Teammate]:
    """The stored profiles of `user_ids`; none without a workspace, or when they cannot be
    read: the stored copy only spares Slack calls."""
    if not team_id:
        return {}
    try:
        return await services.profiles.known(team_id, user_ids)
    except SQLAlchemyError:
        logger.warning("stored profiles unreadable; asking Slack", exc_info=True)
        return {}


async def _store_profiles(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    answered: list[Teammate],
    said_at: datetime,
    *,
    listing: bool,
) -> None:
    try:
        await services.profiles.remember(team_id, answered, said_at)
        if listing:
            await list_members(services, client, team_id)
    except Exception:  # noqa: BLE001 - users.info answers meanwhile; the lease lapses
        logger.exception("could not store the profiles of workspace %s", team_id)


async def list_members(services: Services, client: AsyncWebClient, team_id: str) -> None:
    """Store every member's profile from users.list, a page at a time (a few calls for a
    team of thousands), unless a replica listed them lately or is listing them now. A
    listing cut short is taken up again when its lease lapses."""
    if not await services.profiles.claim_listing(team_id):
        return
    started_at = asked_at = services.profiles.now()
    async for page in await client.users_list(limit=USERS_PAGE):
        members = [teammate_from(member) for member in page.get("members") or []]
        await services.profiles.remember(team_id, members, asked_at)
        asked_at = services.profiles.now()  # the next page is asked for now
    await services.profiles.listed(team_id, started_at)


async def profile_changed(
    services: Services, client: AsyncWebClient, team_id: str, user: dict[str, Any]
) -> None:
    """Slack sent a user's profile as it is now (user_change, team_join): keep it."""
    person = teammate_from(user)
    _keep(_profile_cache(client), person)
    await services.profiles.remember(team_id, [person])


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
    """Everyone's display name, from users.list a page at a time: a handful of calls for a
    team of thousands, where a users.info each would run into Slack's rate limits."""
    names: dict[str, str] = {}
    async for page in await client.users_list(limit=USERS_PAGE):
        for member in page.get("members") or []:
            names[str(member["id"])] = display_name(member)
    return names


def display_name(user: dict[str, Any]) -> str:
    profile = user.get("profile") or {}
    return str(user.get("real_name") or profile.get("real_name") or user.get("name") or "")


async def teammates(client: AsyncWebClient, *user_ids: str) -> list[Teammate | None]:
    return list(await asyncio.gather(*(teammate(client, uid) for uid in user_ids)))


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


async def is_admin(client: AsyncWebClient, user_id: str) -> bool:
    try:
        user = (await client.users_info(user=user_id))["user"]
    except SlackApiError:
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


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
