"""People as the listeners look them up: this process's memory, the stored profiles, Slack."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.intro.validation import Teammate
from bot.wiring.app import Services
from bot.wiring.slack_errors import slack_error_code

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
        services.work.in_background(
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


async def is_admin(client: AsyncWebClient, user_id: str) -> bool:
    try:
        user = (await client.users_info(user=user_id))["user"]
    except SlackApiError:
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
