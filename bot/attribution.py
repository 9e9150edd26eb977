"""Which connectors source meetings and deals: the funnel, its timings, and the CRM export."""

from __future__ import annotations

import csv
import io
import statistics
from array import array
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.states import Outcome, Status
from storage.models import IntroRequest, RequestEvent

STAGES = ["requested", "accepted", "intro_made", "meeting", "opportunity", "won"]
_MEETING = {Outcome.MEETING_HELD, Outcome.OPPORTUNITY, Outcome.CLOSED_WON}
_OPPORTUNITY = {Outcome.OPPORTUNITY, Outcome.CLOSED_WON}
# Rows read from the database at a time.
PARTITION = 2000


@dataclass
class Funnel:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    # step -> durations in hours, kept only where they are shown (compact: a history of a
    # million requests is read a partition at a time and must not sit in memory as objects).
    hours: dict[str, array[float]] = field(default_factory=dict)

    def rate(self, stage: str) -> float | None:
        """Conversion from the stage before."""
        index = STAGES.index(stage)
        before = self.counts[STAGES[index - 1]] if index else 0
        return self.counts[stage] / before if index and before else None

    def median_hours(self, step: str) -> float | None:
        values = self.hours.get(step)
        return round(statistics.median(values), 1) if values else None


@dataclass
class Report:
    workspace: Funnel
    by_connector: dict[str, Funnel]
    by_requester: dict[str, Funnel]
    thanked: list[tuple[str, int]]  # connectors whose intros got an outcome reported


def _add(funnel: Funnel, row: Row[Any], *, timed: bool) -> None:
    counts = funnel.counts
    counts["requested"] += 1
    if row.accepted_at:
        counts["accepted"] += 1
    if row.intro_made_at:
        counts["intro_made"] += 1
    outcome = row.outcome
    if outcome in _MEETING:
        counts["meeting"] += 1
    if outcome in _OPPORTUNITY:
        counts["opportunity"] += 1
    if outcome == Outcome.CLOSED_WON:
        counts["won"] += 1
    if not timed:
        return
    steps = (
        ("request_to_accept", row.created_at, row.accepted_at),
        ("accept_to_intro", row.accepted_at, row.intro_made_at),
        ("intro_to_outcome", row.intro_made_at, row.outcome_at),
    )
    for step, start, end in steps:
        if start and end:
            hours = funnel.hours.get(step)
            if hours is None:
                hours = funnel.hours[step] = array("d")
            hours.append((end - start).total_seconds() / 3600)


class Attribution:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _rows(self, team_id: str, user_id: str | None = None) -> AsyncIterator[Row[Any]]:
        """The columns the funnel and the export need, a partition at a time, in id order."""
        scope = IntroRequest.team_id == team_id
        if user_id is not None:
            scope &= (IntroRequest.requester_id == user_id) | (IntroRequest.connector_id == user_id)
        # When the connector first accepted (the request's own events, by their index).
        accepted_at = (
            select(func.min(RequestEvent.at))
            .where(
                RequestEvent.request_id == IntroRequest.id,
                RequestEvent.to_status == Status.CHECKING_WITH_TARGET,
            )
            .correlate(IntroRequest)
            .scalar_subquery()
            .label("accepted_at")
        )
        statement = (
            select(
                IntroRequest.id,
                IntroRequest.target_name,
                IntroRequest.target_company,
                IntroRequest.connector_id,
                IntroRequest.requester_id,
                IntroRequest.requester_name,
                IntroRequest.status,
                IntroRequest.outcome,
                IntroRequest.created_at,
                IntroRequest.intro_made_at,
                IntroRequest.followed_up_at,
                IntroRequest.outcome_at,
                accepted_at,
            )
            .where(scope)
            .order_by(IntroRequest.id)
            .execution_options(yield_per=PARTITION)
        )
        async with self._sessions() as session:
            result = await session.stream(statement)
            async for partition in result.partitions():
                for row in partition:
                    yield row  # type: ignore[misc]  # a Row; its typed-tuple stub disagrees

    async def report(
        self, team_id: str, user_id: str | None = None, *, viewer: str | None = None
    ) -> Report:
        """The funnel for the workspace, or (with user_id) just one person's asks and intros.

        Median times are kept for the workspace and for the viewer's own asks (`viewer`, or
        `user_id`): what the stats message shows."""
        viewer = viewer or user_id
        report = Report(Funnel(), {}, {}, [])
        thanked: Counter[str] = Counter()
        async for row in self._rows(team_id, user_id):
            _add(report.workspace, row, timed=True)
            _add(report.by_connector.setdefault(row.connector_id, Funnel()), row, timed=False)
            mine = row.requester_id == viewer
            _add(report.by_requester.setdefault(row.requester_id, Funnel()), row, timed=mine)
            if row.outcome:
                thanked[row.connector_id] += 1
        report.thanked = thanked.most_common(5)
        return report

    async def people(self, team_id: str) -> list[str]:
        """Everyone who asked or introduced: whose names the export needs."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(IntroRequest.requester_id, IntroRequest.connector_id)
                .where(IntroRequest.team_id == team_id)
                .distinct()
            )
            return sorted({user for row in rows for user in row})

    async def export_csv(self, team_id: str, names: dict[str, str]) -> str:
        """One row per request, columns named the way CRM lead imports expect."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "Request ID",
                "First Name",
                "Last Name",
                "Company",
                "Lead Source",
                "Lead Source Detail",
                "Referred By",
                "Referred By Slack ID",
                "Requested By",
                "Requested By Slack ID",
                "Status",
                "Outcome",
                "Requested Date",
                "Accepted Date",
                "Intro Date",
                "Followed Up Date",
                "Outcome Date",
            ]
        )
        async for request in self._rows(team_id):
            first, _, last = request.target_name.partition(" ")
            writer.writerow(
                _safe_cell(value)
                for value in [
                    request.id,
                    first,
                    last,
                    request.target_company,
                    "Warm Introduction",
                    "introbot",
                    names.get(request.connector_id, request.connector_id),
                    request.connector_id,
                    names.get(request.requester_id, request.requester_name or request.requester_id),
                    request.requester_id,
                    request.status,
                    request.outcome or "",
                    _day(request.created_at),
                    _day(request.accepted_at),
                    _day(request.intro_made_at),
                    _day(request.followed_up_at),
                    _day(request.outcome_at),
                ]
            )
        return out.getvalue()


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


def _safe_cell(value: object) -> object:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
