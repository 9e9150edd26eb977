"""The manager's chart: the team's funnel and the coverage of its accounts, as a small PNG.

Rendered with matplotlib's Agg backend (no display), off the event loop by the caller
(`asyncio.to_thread`). What the chart shows is a `ChartData`; its `key` is a hash of that, so
an unchanged chart is not drawn or uploaded again.

matplotlib (with numpy and Pillow, some 40 MB resident) is imported on the first chart
drawn, not with this module: most processes never draw one (docs/performance.md, "Memory").
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.intro.attribution import STAGES
from bot.intro.teams import TeamView
from bot.rendering.texts import labels

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Raised when the drawing changes, so charts drawn before are drawn again.
CHART_VERSION = 1
# Okabe-Ito colours: told apart with any colour vision, dark enough for white labels.
FUNNEL_COLOUR = "#0072B2"
COVERED_COLOUR = "#009E73"
UNCOVERED_COLOUR = "#BBBBBB"
TEXT_COLOUR = "#1D1C1D"
FILENAME = "team-funnel.png"


@dataclass(frozen=True)
class ChartData:
    funnel: tuple[tuple[str, int], ...]  # (label, count) per stage, in order
    covered: int
    accounts: int

    @property
    def key(self) -> str:
        """A hash of what the chart shows (and how it is drawn)."""
        shown = {
            "v": CHART_VERSION,
            "funnel": self.funnel,
            "coverage": [self.covered, self.accounts],
        }
        return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()

    @property
    def worth_drawing(self) -> bool:
        return bool(self.funnel[0][1] or self.accounts)

    def alt_text(self) -> str:
        words = labels()["team_chart"]
        funnel = ", ".join(f"{label} {count}" for label, count in self.funnel)
        alt = words["alt"] if self.accounts else words["alt_no_accounts"]
        return str(alt).format(funnel=funnel, covered=self.covered, accounts=self.accounts)


def chart_data(view: TeamView) -> ChartData:
    names = labels()["funnel"]
    counts = view.funnel.counts
    return ChartData(
        tuple((str(names[stage]), int(counts[stage])) for stage in STAGES),
        view.coverage.covered,
        view.coverage.accounts,
    )


def render_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes: the funnel as labelled horizontal bars, and beside it the
    team's accounts split into those with a way in and those with no path yet."""
    words = labels()["team_chart"]
    figure = _figure_class()(figsize=(7.2, 2.8), dpi=100, layout="constrained")
    if data.accounts:
        funnel_axes, coverage_axes = figure.subplots(1, 2, width_ratios=[3, 1.4])
        _coverage(coverage_axes, data, words)
    else:  # no accounts on the team's lists: the funnel alone
        funnel_axes = figure.subplots()
    stage_labels = [label for label, _ in data.funnel][::-1]
    counts = [count for _, count in data.funnel][::-1]
    bars = funnel_axes.barh(stage_labels, counts, color=FUNNEL_COLOUR)
    funnel_axes.bar_label(bars, padding=3, color=TEXT_COLOUR, fontsize=9)
    funnel_axes.set_title(words["title"], loc="left", fontsize=11, color=TEXT_COLOUR)
    funnel_axes.set_xlim(0, max(counts + [1]) * 1.15)
    _plain(funnel_axes)
    funnel_axes.set_xticks([])
    funnel_axes.spines["bottom"].set_visible(False)
    out = io.BytesIO()
    # No metadata: the same chart is the same bytes.
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _figure_class() -> type[Figure]:
    import matplotlib

    matplotlib.use("Agg")  # before anything of matplotlib's picks a display backend
    from matplotlib.figure import Figure

    return Figure


def _coverage(axes: Axes, data: ChartData, words: dict[str, str]) -> None:
    """The team's accounts: those with a way in, and those with no path yet."""
    uncovered = max(0, data.accounts - data.covered)
    pair = axes.bar(
        [words["covered"], words["uncovered"]],
        [data.covered, uncovered],
        color=[COVERED_COLOUR, UNCOVERED_COLOUR],
    )
    axes.bar_label(pair, padding=2, color=TEXT_COLOUR, fontsize=9)
    axes.set_title(words["coverage_title"], loc="left", fontsize=11, color=TEXT_COLOUR)
    axes.set_ylim(0, max(data.covered, uncovered, 1) * 1.2)
    _plain(axes)
    axes.set_yticks([])
    axes.spines["left"].set_visible(False)


def _plain(axes: Axes) -> None:
    axes.tick_params(labelsize=9, colors=TEXT_COLOUR)
    axes.spines[["top", "right"]].set_visible(False)
