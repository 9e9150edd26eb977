"""A manager's team and what their view of it shows: the team's funnel, coverage of the
team's accounts, asks stuck at a step for more than a week, and the connectors carrying the
team's asks.

An admin names the team (`/intro team @maria @riya @sam`, or a Slack user group): people are
stored as named; a user group is stored as a group and its members are read when the team is
shown (through the `GroupSource` passed in), so the team follows the group as it changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Delete, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.accounts import Accounts
from bot.intro.attribution import Attribution, Funnel, Report
from bot.intro.states import Status
from storage.db import reading
from storage.models import (
    IntroRequest,
    RequestEvent,
    TeamChart,
    TeamMember,
)

# An ask is stuck once it has waited at one step for longer than this.
STUCK_AFTER = timedelta(days=7)
# The connectors the view names, most asks first.
TOP_CONNECTORS = 5


class Step(StrEnum):
    """Where an ask waits, and so on whom."""

    OWNER = "owner"  # the account owner approves first
    CONNECTOR = "connector"  # the connector has not answered
    TARGET = "target"  # the connector is checking with the person
    OUTCOME = "outcome"  # the intro was made; the requester has not said what came of it


STEP_OF_STATUS: dict[str, Step] = {
    Status.AWAITING_OWNER: Step.OWNER,
    Status.AWAITING_CONNECTOR: Step.CONNECTOR,
    Status.CHECKING_WITH_TARGET: Step.TARGET,
    Status.INTRO_MADE: Step.OUTCOME,
    Status.FOLLOWED_UP: Step.OUTCOME,
}
# Asks a connector is carrying now.
CARRIED = (Status.AWAITING_CONNECTOR, Status.CHECKING_WITH_TARGET, Status.ASK_LATER)


@dataclass(frozen=True)
class OpenAsk:
    """A team member's ask that has not ended, and since when it is at its status."""

    request_id: int
    requester_id: str
    status: str
    since: datetime
    connector_id: str = ""
    connector_outside: bool = False
    connector_name: str = ""
    account_owner_id: str = ""
    target_company: str = ""


@dataclass(frozen=True)
class StuckAsk:
    ask: OpenAsk
    step: Step
    # The teammate it waits on (a Slack id), or "" with `waiting_on_name` for a connector
    # outside the team.
    waiting_on: str
    waiting_on_name: str
    days: int


def waiting_on(ask: OpenAsk, step: Step) -> tuple[str, str]:
    """Whom an ask at `step` waits on: a Slack id, or ("", name) for an outside connector."""
    if step is Step.OWNER:
        return ask.account_owner_id, ""
    if step is Step.OUTCOME:
        return ask.requester_id, ""
    if ask.connector_outside:
        return "", ask.connector_name or "someone outside the team"
    return ask.connector_id, ""


def stuck_asks(
    asks: Iterable[OpenAsk], now: datetime, after: timedelta = STUCK_AFTER
) -> list[StuckAsk]:
    """The asks that have waited at one step for more than `after`: by step (in the order an
    ask goes through them), the longest wait first."""
    stuck = []
    for ask in asks:
        step = STEP_OF_STATUS.get(ask.status)
        waited = now - ask.since
        if step is None or waited <= after:
            continue
        who, name = waiting_on(ask, step)
        stuck.append(StuckAsk(ask, step, who, name, waited.days))
    order = list(Step)
    return sorted(stuck, key=lambda s: (order.index(s.step), -s.days, s.ask.request_id))


@dataclass(frozen=True)
class ConnectorLoad:
    connector: str  # a Slack id, or an outside connector's key (attribution.OUTSIDE_PREFIX)
    asks: int  # asks from the team, ever
    open: int  # of them, still with the connector
    intros: int  # intros made


def rank_connectors(
    by_connector: dict[str, Funnel], carried: Counter[str], limit: int = TOP_CONNECTORS
) -> list[ConnectorLoad]:
    """The connectors carrying the most of the team's asks: most asks first, then most open
    now, then most intros made; ties in a stable order."""
    loads = [
        ConnectorLoad(key, f.counts["requested"], carried.get(key, 0), f.counts["intro_made"])
        for key, f in by_connector.items()
        if f.counts["requested"]
    ]
    loads.sort(key=lambda c: (-c.asks, -c.open, -c.intros, c.connector))
    return loads[:limit]


@dataclass(frozen=True)
class Coverage:
    accounts: int  # distinct accounts on the team's lists
    covered: int  # of them, with a way in (bot.intro.accounts.AccountCoverage.has_way_in)


class GroupSource(Protocol):
    """Where a user group's members are read from (Slack's usergroups.users.list)."""

    async def members_of(self, group_id: str) -> list[str] | None:
        """The group's members; None when they could not be read just now."""
        ...


@dataclass(frozen=True)
class Team:
    manager_id: str
    people: tuple[str, ...]  # named one by one
    groups: tuple[tuple[str, str], ...]  # (group id, handle)


@dataclass
class Members:
    ids: set[str] = field(default_factory=set)
    unread_groups: list[str] = field(default_factory=list)  # handles of groups not read


async def resolve(team: Team, source: GroupSource) -> Members:
    """The team's members now: the people named, and each group's members as Slack has them."""
    found = Members(set(team.people))
    for group_id, handle in team.groups:
        members = await source.members_of(group_id)
        if members is None:
            found.unread_groups.append(handle)
        else:
            found.ids.update(members)
    return found


@dataclass
class TeamView:
    team: Team
    members: Members
    report: Report  # its `workspace` funnel is the team's asks
    coverage: Coverage
    stuck: list[StuckAsk]
    connectors: list[ConnectorLoad]

    @property
    def funnel(self) -> Funnel:
        return self.report.workspace


class Teams:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        attribution: Attribution,
        accounts: Accounts,
    ):
        self._sessions = sessions
        self._attribution = attribution
        self._accounts = accounts

    async def set_team(
        self,
        team_id: str,
        manager_id: str,
        people: Sequence[str],
        groups: Sequence[tuple[str, str]],
        *,
        by: str,
        now: datetime,
    ) -> Team:
        """Name a manager's team, in place of the one they had."""
        rows = [
            TeamMember(
                team_id=team_id,
                manager_id=manager_id,
                member_id=person,
                is_group=False,
                handle="",
                added_by=by,
                added_at=now,
            )
            for person in dict.fromkeys(people)
        ] + [
            TeamMember(
                team_id=team_id,
                manager_id=manager_id,
                member_id=group_id,
                is_group=True,
                handle=handle,
                added_by=by,
                added_at=now,
            )
            for group_id, handle in dict(groups).items()
        ]
        async with self._sessions.begin() as session:
            await session.execute(_team_rows(team_id, manager_id))
            session.add_all(rows)
        return _team(manager_id, rows)

    async def remove_team(self, team_id: str, manager_id: str) -> bool:
        async with self._sessions.begin() as session:
            removed = await session.execute(_team_rows(team_id, manager_id))
            await session.execute(
                delete(TeamChart).where(
                    TeamChart.team_id == team_id, TeamChart.manager_id == manager_id
                )
            )
        return bool(removed.rowcount)  # type: ignore[attr-defined]

    async def teams(self, team_id: str, session: AsyncSession | None = None) -> list[Team]:
        """Every manager's team in the workspace, in the order they were named."""
        async with reading(self._sessions, session) as session:
            rows = (
                await session.scalars(
                    select(TeamMember)
                    .where(TeamMember.team_id == team_id)
                    .order_by(TeamMember.added_at, TeamMember.manager_id, TeamMember.member_id)
                )
            ).all()
        by_manager: dict[str, list[TeamMember]] = {}
        for row in rows:
            by_manager.setdefault(row.manager_id, []).append(row)
        return [_team(manager, found) for manager, found in by_manager.items()]

    async def team_of(
        self, team_id: str, manager_id: str, session: AsyncSession | None = None
    ) -> Team | None:
        """The manager's team; None for someone who has none."""
        async with reading(self._sessions, session) as session:
            rows = (
                await session.scalars(
                    select(TeamMember)
                    .where(TeamMember.team_id == team_id, TeamMember.manager_id == manager_id)
                    .order_by(TeamMember.added_at, TeamMember.member_id)
                )
            ).all()
        return _team(manager_id, rows) if rows else None

    async def view(self, team_id: str, team: Team, members: Members, now: datetime) -> TeamView:
        """What the manager's view shows, read in one session."""
        async with reading(self._sessions) as session:
            report = await self._attribution.report(
                team_id, session=session, requesters=members.ids
            )
            # The members' lists, counted as `/intro accounts` counts them.
            listed = await self._accounts.coverage(team_id, members.ids, session=session)
            coverage = Coverage(listed.total, listed.with_way_in)
            asks = await open_asks(session, team_id, members.ids)
        carried = Counter(
            a.connector_id for a in asks if a.status in CARRIED and not a.connector_outside
        )
        connectors = rank_connectors(report.by_connector, carried)
        return TeamView(team, members, report, coverage, stuck_asks(asks, now), connectors)

    async def chart(self, team_id: str, manager_id: str) -> TeamChart | None:
        async with reading(self._sessions) as session:
            return await session.get(TeamChart, (team_id, manager_id))

    async def remember_chart(
        self, team_id: str, manager_id: str, content_hash: str, file_id: str, now: datetime
    ) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(TeamChart, (team_id, manager_id))
            if row is None:
                session.add(
                    TeamChart(
                        team_id=team_id,
                        manager_id=manager_id,
                        content_hash=content_hash,
                        file_id=file_id,
                        uploaded_at=now,
                    )
                )
            else:
                row.content_hash, row.file_id, row.uploaded_at = content_hash, file_id, now

    async def forget_chart(self, team_id: str, manager_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(TeamChart).where(
                    TeamChart.team_id == team_id, TeamChart.manager_id == manager_id
                )
            )


def _team_rows(team_id: str, manager_id: str) -> Delete:
    return delete(TeamMember).where(
        TeamMember.team_id == team_id, TeamMember.manager_id == manager_id
    )


def _team(manager_id: str, rows: Iterable[TeamMember]) -> Team:
    rows = list(rows)
    return Team(
        manager_id,
        tuple(r.member_id for r in rows if not r.is_group),
        tuple((r.member_id, r.handle) for r in rows if r.is_group),
    )


async def open_asks(
    session: AsyncSession, team_id: str, requesters: Collection[str]
) -> list[OpenAsk]:
    """The team's asks that wait on someone (the statuses of STEP_OF_STATUS, and those a
    connector carries), each with when it came to its status: its latest event into it, or
    its creation."""
    entered = (
        select(func.max(RequestEvent.at))
        .where(
            RequestEvent.request_id == IntroRequest.id,
            RequestEvent.to_status == IntroRequest.status,
        )
        .correlate(IntroRequest)
        .scalar_subquery()
    )
    statuses = sorted(set(STEP_OF_STATUS) | set(CARRIED))
    rows = await session.execute(
        select(
            IntroRequest.id,
            IntroRequest.requester_id,
            IntroRequest.status,
            func.coalesce(entered, IntroRequest.created_at),
            IntroRequest.connector_id,
            IntroRequest.connector_outside,
            IntroRequest.connector_name,
            IntroRequest.account_owner_id,
            IntroRequest.target_company,
        ).where(
            IntroRequest.team_id == team_id,
            IntroRequest.requester_id.in_(sorted(requesters)),
            IntroRequest.status.in_(statuses),
        )
    )
    return [
        OpenAsk(
            request_id=row[0],
            requester_id=row[1],
            status=row[2],
            since=_aware(row[3]),
            connector_id=row[4] or "",
            connector_outside=bool(row[5]),
            connector_name=row[6] or "",
            account_owner_id=row[7] or "",
            target_company=row[8] or "",
        )
        for row in rows
    ]


def _aware(moment: datetime | str) -> datetime:
    """coalesce() loses the column's type on SQLite: its text comes back as it was stored."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
