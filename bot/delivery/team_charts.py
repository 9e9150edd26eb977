"""Slack's side of a manager's view: a user group's members (usergroups.users.list), and the
team's chart uploaded as a file (files.getUploadURLExternal, the bytes POSTed to the upload
URL Slack gives, files.completeUploadExternal) to be shown in an image block by its id."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.clock import Clock
from bot.intro.teams import Teams
from bot.observability.slack_errors import slack_error_code
from bot.rendering.charts import FILENAME, ChartData, render_chart

logger = logging.getLogger(__name__)
# Slack's limit on an upload's description for screen readers.
ALT_TEXT_MAX = 1000


async def read_group(client: AsyncWebClient, group_id: str) -> tuple[list[str] | None, str]:
    """A user group's members, or None and Slack's error (`no_such_subteam`, `missing_scope`
    for an install from before introbot asked to read groups, ...)."""
    try:
        response = await client.usergroups_users_list(usergroup=group_id)
    except SlackApiError as exc:
        return None, slack_error_code(exc)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return None, type(exc).__name__
    return [str(user) for user in response.get("users") or []], ""


class SlackGroups:
    """User groups' members as Slack has them now (a bot.intro.teams.GroupSource)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def members_of(self, group_id: str) -> list[str] | None:
        members, error = await read_group(self._client, group_id)
        if members is None:
            logger.warning("usergroups.users.list %s failed: %s", group_id, error)
        return members


async def chart_file(
    client: AsyncWebClient,
    teams: Teams,
    clock: Clock,
    team_id: str,
    manager_id: str,
    data: ChartData,
) -> str | None:
    """The Slack file id of the manager's chart showing `data`: the one uploaded before when
    it showed the same (by its hash), else drawn (in a worker thread) and uploaded now.
    None when Slack would not take it: the view then shows the numbers alone."""
    cached = await teams.chart(team_id, manager_id)
    if cached is not None and cached.content_hash == data.key:
        return cached.file_id
    png = await asyncio.to_thread(render_chart, data)
    try:
        uploaded = await client.files_upload_v2(
            content=png,
            filename=FILENAME,
            title=FILENAME,
            alt_txt=data.alt_text()[:ALT_TEXT_MAX],
        )
    except SlackApiError as exc:
        logger.warning("chart upload refused: %s", slack_error_code(exc))
        return None
    except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
        logger.warning("chart upload failed: %s", type(exc).__name__)
        return None
    file_id = str(uploaded["file"]["id"])
    await teams.remember_chart(team_id, manager_id, data.key, file_id, clock.now())
    return file_id
