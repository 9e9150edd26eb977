"""The people delivery writes to: their time zones (a reminder waits for their working hours)
and names, looked up as everyone is (bot.intro.people), in turn under Slack's limits."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.pauses import APP_AUTH_ERRORS
from bot.delivery.slack_people import SlackUsers
from bot.intro.people import People
from bot.observability.slack_errors import slack_error_code
from storage.models import MessageKind, OutboundMessage

logger = logging.getLogger(__name__)

# Waits for a Web API call's turn in a workspace (Dispatcher._slot).
Slot = Callable[[str, str], Awaitable[None]]


class Recipients:
    def __init__(self, people: People, client: AsyncWebClient, slot: Slot) -> None:
        self._people = people
        self._client = client
        self._slot = slot

    async def recall(self, claimed: list[OutboundMessage]) -> None:
        """The time zones the batch's reminders need, read together from the stored profiles:
        10,000 reminders due at 09:00 would otherwise wait on 10,000 users.info calls, paced
        at Tier 4 (about 100 a minute). Whoever is not stored is asked about as before."""
        wanted: dict[str, set[str]] = {}
        for message in claimed:
            if message.kind == MessageKind.REMINDER:
                wanted.setdefault(message.team_id, set()).add(message.recipient_id)
        for team_id, user_ids in wanted.items():
            await self._people.recall(team_id, user_ids)

    async def profile(self, user_id: str, token: str, team_id: str) -> tuple[str | None, str]:
        """A user's time zone and name; (None, "") when Slack cannot say. An error of the
        app's own token is raised: the message waits for it to work."""
        try:
            person = await self._people.one(self._users(team_id, token), team_id, user_id)
        except SlackApiError as exc:
            if slack_error_code(exc) in APP_AUTH_ERRORS:
                raise
            logger.info("no profile for %s: %s", user_id, slack_error_code(exc))
            return None, ""
        return ((person.tz or None), person.name) if person is not None else (None, "")

    async def names(self, team_id: str, user_ids: list[str], token: str) -> dict[str, str]:
        """The names of a few people, with one read of the stored profiles for all."""
        await self._people.recall(team_id, user_ids)
        return {user_id: (await self.profile(user_id, token, team_id))[1] for user_id in user_ids}

    def _users(self, team_id: str, token: str) -> SlackUsers:
        """users.info with the workspace's token, in its turn under Slack's limits."""

        async def paced() -> None:
            await self._slot(team_id, "users.info")

        return SlackUsers(self._client, token=token, before_call=paced)
