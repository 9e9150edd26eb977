"""Which connectors source meetings and deals: the funnel, its timings, and the CRM export."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.states import Outcome, Status
from storage.models import IntroRequest, RequestEvent

STAGES = ["requested", "accepted", "intro_made", "meeting", "opportunity", "won"]
_MEETING = {Outcome.MEETING_HELD, Outcome.OPPORTUNITY, Outcome.CLOSED_WON}
_OPPORTUNITY = {Outcome.OPPORTUNITY, Outcome.CLOSED_WON}


@dataclass
class Funnel:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    hours: dict[str, list[float]] = field(default_factory=dict)  # step -> durations

    def rate(self, stage: str) -> float | None:
        """Conversion from the stage before."""
        index = STAGES.index(stage)
        before = self.counts[STAGES[index - 1]] if index else 0
        return self.counts[stage] / before if index and before else None

    def median_hours(self, step: str) -> float | None:
        values = self.hours.get(step, [])
        return round(statistics.median(values), 1) if values else None


@dataclass
class Report:
    workspace: Funnel
    by_connector: dict[str, Funnel]
    by_requester: dict[str, Funnel]
    thanked: list[tuple[str, int]]  # connectors whose intros got an outcome reported


@dataclass(frozen=True)
class _Times:
    requested: datetime
    accepted: datetime | None
    intro_made: datetime | None
    outcome: datetime | None


def _add(funnel: Funnel, request: IntroRequest, times: _Times) -> None:
    counts = funnel.counts
    counts["requested"] += 1
    if times.accepted:
        counts["accepted"] += 1
    if request.intro_made_at:
        counts["intro_made"] += 1
    outcome = request.outcome
    if outcome in _MEETING:
        counts["meeting"] += 1
    if outcome in _OPPORTUNITY:
        counts["opportunity"] += 1
    if outcome == Outcome.CLOSED_WON:
        counts["won"] += 1
    steps = (
        ("request_to_accept", times.requested, times.accepted),
        ("accept_to_intro", times.accepted, times.intro_made),
        ("intro_to_outcome", times.intro_made, times.outcome),
    )
    for step, start, end in steps:
        if start and end:
            funnel.hours.setdefault(step, []).append((end - start).total_seconds() / 3600)


class Attribution:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _requests(
        self, team_id: str, user_id: str | None = None
    ) -> list[tuple[IntroRequest, _Times]]:
        scope = IntroRequest.team_id == team_id
        if user_id is not None:
            scope &= (IntroRequest.requester_id == user_id) | (IntroRequest.connector_id == user_id)
        async with self._sessions() as session:
            requests = list(
                await session.scalars(select(IntroRequest).where(scope).order_by(IntroRequest.id))
            )
            accepted_rows = await session.execute(
                select(RequestEvent.request_id, RequestEvent.at).where(
                    RequestEvent.team_id == team_id,
                    RequestEvent.to_status == Status.CHECKING_WITH_TARGET,
                    RequestEvent.request_id.in_(select(IntroRequest.id).where(scope)),
                )
            )
            accepted = {request_id: at for request_id, at in accepted_rows}
        return [
            (
                r,
                _Times(
                    requested=r.created_at,
                    accepted=accepted.get(r.id),
                    intro_made=r.intro_made_at,
                    outcome=r.outcome_at,
                ),
            )
            for r in requests
        ]

    async def report(self, team_id: str, user_id: str | None = None) -> Report:
        """The funnel for the workspace, or (with user_id) just one person's asks and intros."""
        report = Report(Funnel(), {}, {}, [])
        thanked: Counter[str] = Counter()
        for request, times in await self._requests(team_id, user_id):
            _add(report.workspace, request, times)
            _add(report.by_connector.setdefault(request.connector_id, Funnel()), request, times)
            _add(report.by_requester.setdefault(request.requester_id, Funnel()), request, times)
            if request.outcome:
                thanked[request.connector_id] += 1
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
        for request, times in await self._requests(team_id):
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
                    _day(times.requested),
                    _day(times.accepted),
                    _day(times.intro_made),
                    _day(request.followed_up_at),
                    _day(times.outcome),
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
