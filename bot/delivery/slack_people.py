"""Slack's side of bot.intro.people: users.info and users.list, their users as Teammates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.people import Teammate
from bot.observability.slack_errors import slack_error_code

USERS_PAGE = 200  # users.list members per call, as Slack recommends


def display_name(user: dict[str, Any]) -> str:
    profile = user.get("profile") or {}
    return str(user.get("real_name") or profile.get("real_name") or user.get("name") or "")


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
        is_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
    )


class SlackUsers:
    """A workspace's people as Slack's Web API has them (a bot.intro.people.PeopleSource).

    `token`: the workspace's bot token, where the client serves several; `before_call`: waits
    for the call's turn under Slack's rate limits (delivery's pacing)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        token: str | None = None,
        before_call: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._token: dict[str, Any] = {"token": token} if token is not None else {}
        self._before_call = before_call

    async def user(self, user_id: str) -> Teammate | None:
        if self._before_call is not None:
            await self._before_call()
        try:
            response = await self._client.users_info(user=user_id, **self._token)
        except SlackApiError as exc:
            if slack_error_code(exc) == "user_not_found":
                return None
            raise
        return teammate_from(response["user"])

    async def members(self) -> AsyncIterator[list[Teammate]]:
        async for page in await self._client.users_list(limit=USERS_PAGE, **self._token):
            yield [teammate_from(member) for member in page.get("members") or []]

    async def names(self) -> dict[str, str]:
        """Everyone's display name, a page at a time: a handful of calls for a team of
        thousands, where a users.info each would run into Slack's rate limits."""
        return {person.user_id: person.name async for page in self.members() for person in page}
