"""`/intro team` (admins name a manager's team) and `/intro stats team` (a manager's view)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.delivery.team_charts import read_group
from bot.observability.slack_errors import slack_error_code
from bot.rendering.messages import Message
from bot.rendering.teams import team_reply, team_stats, without_chart
from handlers.replies import say_privately
from handlers.support import active_person
from handlers.team_view import CHART_REFUSED, manager_view

if TYPE_CHECKING:
    from handlers.commands import Typed

logger = logging.getLogger(__name__)


async def team(typed: Typed) -> None:
    """Name, show, list or remove a manager's team (admins only)."""
    command, teams, team_id = typed.command, typed.services.teams, typed.actor.team_id
    if command.name == "remove":
        removed = await teams.remove_team(team_id, command.user_id)
        await typed.reply(team_reply("removed", removed=removed, user_id=command.user_id))
    elif not command.user_id:
        await typed.reply(team_reply("listed", teams=await teams.teams(team_id)))
    elif not (command.people or command.groups):
        shown = await teams.team_of(team_id, command.user_id)
        await typed.reply(team_reply("shown", team=shown, user_id=command.user_id))
    else:
        await name_team(typed)


async def name_team(typed: Typed) -> None:
    """`/intro team @maria @riya @sales-east`: every person active, every group readable."""
    command, services, actor = typed.command, typed.services, typed.actor
    for user_id in (command.user_id, *command.people):
        if await active_person(services, typed.client, actor.team_id, user_id) is None:
            await typed.reply(team_reply("not_human", user_id=user_id))
            return
    for group_id, handle in command.groups:
        members, error = await read_group(typed.client, group_id)
        if members is None:
            kind = "group_unknown" if error == "no_such_subteam" else "group_unreadable"
            await typed.reply(team_reply(kind, handle=handle, error=error))
            return
    named = await services.teams.set_team(
        actor.team_id,
        command.user_id,
        command.people,
        command.groups,
        by=actor.user_id,
        now=services.clock.now(),
    )
    await typed.reply(team_reply("set", team=named))


async def stats_team(typed: Typed) -> None:
    """The manager's view as a message only they see, where they typed the command."""
    await typed.ack()
    services, actor, client = typed.services, typed.actor, typed.client
    async with services.work.work_slot():
        team = await services.teams.team_of(actor.team_id, actor.user_id)
        manager = await manager_view(services, client, actor.team_id, team)
    if manager is None:
        await typed.reply(team_reply("no_team"))
        return
    message = team_stats(manager.view, manager.chart, manager.file_id)
    try:
        await say_privately(client, typed.body, actor.user_id, message, raising=CHART_REFUSED)
    except SlackApiError as exc:
        if manager.file_id is None or slack_error_code(exc) not in CHART_REFUSED:
            raise
        logger.warning("team chart refused: %s", slack_error_code(exc))
        await services.teams.forget_chart(actor.team_id, actor.user_id)
        alone = Message(message.text, without_chart(message.blocks))
        await say_privately(client, typed.body, actor.user_id, alone)
