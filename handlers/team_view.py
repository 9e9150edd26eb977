"""A manager's view, put together for their Home tab and `/intro stats team`: the team's
members as Slack has them now, the view's numbers, and the chart as a Slack file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.team_charts import SlackGroups, chart_file
from bot.intro.teams import Team, TeamView, resolve
from bot.rendering.charts import ChartData, chart_data
from bot.rendering.teams import team_home_blocks, without_chart
from bot.services.container import Services

# What Slack answers when a block names a file it won't show (not yet processed, deleted).
CHART_REFUSED = ("invalid_blocks", "invalid_arguments")
# Slack's most blocks in a Home tab; and what the manager's section does without, in this
# order, on a Home tab already near it (the numbers stay).
HOME_MAX_BLOCKS = 100
SPARED = ("team_divider", "team_members", "team_chart")


@dataclass
class ManagerView:
    view: TeamView
    chart: ChartData
    file_id: str | None


async def manager_view(
    services: Services, client: AsyncWebClient, team_id: str, team: Team | None
) -> ManagerView | None:
    """The view of a manager's team (as `Teams.team_of` found it, in the caller's session);
    None for someone who manages no team."""
    if team is None:
        return None
    teams, manager_id = services.teams, team.manager_id
    members = await resolve(team, SlackGroups(client))
    view = await teams.view(team_id, team, members, services.clock.now())
    chart = chart_data(view)
    file_id = None
    if chart.worth_drawing:
        file_id = await chart_file(client, teams, services.clock, team_id, manager_id, chart)
    return ManagerView(view, chart, file_id)


def with_team(home: dict[str, Any], manager: ManagerView) -> dict[str, Any]:
    """The Home tab with the manager's section after its buttons."""
    blocks = list(home["blocks"])
    after = next(
        (i + 1 for i, b in enumerate(blocks) if b.get("block_id") == "home_actions"), len(blocks)
    )
    section = team_home_blocks(manager.view, manager.chart, manager.file_id)
    for spared in SPARED:
        if len(blocks) + len(section) <= HOME_MAX_BLOCKS:
            break
        section = [b for b in section if b.get("block_id") != spared]
    return {**home, "blocks": blocks[:after] + section + blocks[after:]}


def chart_left_out(home: dict[str, Any]) -> dict[str, Any]:
    return {**home, "blocks": without_chart(home["blocks"])}
