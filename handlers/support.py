"""People as the listeners look them up: through bot.intro.people (this process's memory, the
stored profiles, then Slack), with Slack reached through bot.delivery.slack_people."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.slack_people import SlackUsers
from bot.intro.people import Teammate
from bot.services.container import Services

logger = logging.getLogger(__name__)


async def known_teammates(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    *user_ids: str,
    stored: dict[str, Teammate] | None = None,
) -> list[Teammate | None]:
    """People looked up where it costs least (bot.intro.people); what Slack answered is
    stored, and the workspace's members listed when due, after the caller's ack."""
    source, later = SlackUsers(client), services.work.in_background
    return await services.people.look_up(source, team_id, *user_ids, stored=stored, later=later)


async def known_teammate(
    services: Services, client: AsyncWebClient, team_id: str, user_id: str
) -> Teammate | None:
    """One person, looked up as known_teammates looks people up; None if Slack doesn't
    know them."""
    (person,) = await known_teammates(services, client, team_id, user_id)
    return person


async def active_person(
    services: Services, client: AsyncWebClient, team_id: str, user_id: str
) -> Teammate | None:
    """A person with an active account, who can be asked, offered an intro or named an
    account's owner; None for no one (or no id), a bot or a deactivated user."""
    person = await known_teammate(services, client, team_id, user_id) if user_id else None
    if person is None or person.is_bot or person.deleted:
        return None
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


async def is_admin(
    services: Services, client: AsyncWebClient, team_id: str, user_id: str
) -> bool | None:
    """Whether the user is a workspace admin or owner; None when Slack could not be asked."""
    try:
        return await services.people.is_admin(SlackUsers(client), team_id, user_id)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        logger.warning("admin check for %s not answered: %s", user_id, type(exc).__name__)
        return None
