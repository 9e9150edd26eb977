"""A manager's view in words and blocks (templates/team.json.j2): on their Home tab and in
`/intro stats team`, and the answers to `/intro team`."""

from __future__ import annotations

from typing import Any

from bot.intro.attribution import OUTSIDE_PREFIX, STAGES
from bot.intro.teams import TeamView
from bot.rendering.charts import ChartData
from bot.rendering.messages import Message, _hours
from bot.rendering.templating import render_json
from bot.rendering.texts import labels

# Stuck asks listed by name; the rest are counted.
STUCK_SHOWN = 10


def _context(view: TeamView, chart: ChartData, file_id: str | None) -> dict[str, Any]:
    return {
        "view": view,
        "file_id": file_id,
        "alt_text": chart.alt_text(),
        "stages": STAGES,
        "labels": labels()["funnel"],
        "hours": _hours,
        "outside_names": view.report.outside_names,
        "outside_prefix": OUTSIDE_PREFIX,
        "stuck_max": STUCK_SHOWN,
    }


def team_home_blocks(view: TeamView, chart: ChartData, file_id: str | None) -> list[dict[str, Any]]:
    """The manager's section of their Home tab: the chart (when there is one to show) and,
    beside it, the same numbers in words, then stuck asks and the busiest connectors."""
    blocks: list[dict[str, Any]] = render_json(
        "team.json.j2", kind="home", **_context(view, chart, file_id)
    )
    return blocks


def team_stats(view: TeamView, chart: ChartData, file_id: str | None) -> Message:
    """`/intro stats team`: the manager's view as a message."""
    rendered = render_json("team.json.j2", kind="stats", **_context(view, chart, file_id))
    return Message(text=rendered["text"], blocks=rendered["blocks"])


def without_chart(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same view with its chart left out (Slack would not show the file)."""
    return [block for block in blocks if block.get("block_id") != "team_chart"]


def team_reply(kind: str, **context: Any) -> str:
    defaults: dict[str, Any] = {"user_id": "", "handle": "", "error": "", "team": None}
    rendered: dict[str, str] = render_json("team.json.j2", kind=kind, **(defaults | context))
    return rendered["text"]
