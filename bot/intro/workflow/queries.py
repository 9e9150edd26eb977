"""What the workflow reads without changing anything: a person's requests, what waits on
them, a request's next reminder, who else has introduced a target, and the checks a modal
makes before it opens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.intro.companies import company_keys_sql
from bot.intro.states import (
    INTRO_MADE_STATUSES,
    OPEN_STATUSES,
    Action,
    Role,
    Status,
    next_outcomes,
)
from bot.intro.workflow import plan
from bot.intro.workflow.errors import NothingToThank
from bot.intro.workflow.orm_path import OrmPath
from bot.intro.workflow.results import HISTORY_SPAN, MET_OUTCOMES, History
from storage.db import reading
from storage.models import (
    DeliveryStatus,
    DepartedUser,
    IntroRequest,
    MessageKind,
    OutboundMessage,
)


class Queries(OrmPath):
    async def get(self, team_id: str, request_id: int) -> IntroRequest | None:
        async with reading(self._sessions) as session:
            return await self._find(session, team_id, request_id)

    async def requester_card_at(self, team_id: str, request_id: int) -> tuple[str, str] | None:
        """Where the requester's card for a request is (its channel and ts), once sent."""
        async with reading(self._sessions) as session:
            row = (
                await session.execute(
                    select(OutboundMessage.slack_channel_id, OutboundMessage.slack_ts).where(
                        OutboundMessage.team_id == team_id,
                        OutboundMessage.request_id == request_id,
                        OutboundMessage.kind == MessageKind.REQUESTER_CARD,
                        OutboundMessage.status == DeliveryStatus.SENT,
                    )
                )
            ).first()
        if row is None or not row.slack_channel_id or not row.slack_ts:
            return None
        return row.slack_channel_id, row.slack_ts

    async def check(
        self, team_id: str, request_id: int, actor_id: str, action: Action
    ) -> IntroRequest:
        """Raise what act() would raise, changing nothing: before opening a modal for it."""
        async with reading(self._sessions) as session:
            request = await self._load(session, team_id, request_id)
            plan.permitted(request, actor_id, action)
            return request

    async def check_requester(self, team_id: str, request_id: int, actor_id: str) -> IntroRequest:
        """The request, if `actor_id` asked for it; else what act() would raise."""
        async with reading(self._sessions) as session:
            return await self._load_as(session, team_id, request_id, Role.REQUESTER, actor_id)

    async def check_thanks(self, team_id: str, request_id: int, actor_id: str) -> IntroRequest:
        """The request, if `actor_id` asked for it and may thank its connector now; else
        what `send_thanks` would raise."""
        request = await self.check_requester(team_id, request_id, actor_id)
        if not plan.thankable(request):
            raise NothingToThank
        return request

    async def earlier_request(
        self, team_id: str, request_id: int, requester_id: str, at: Status | None = None
    ) -> IntroRequest:
        """The requester's earlier request, for a new ask that follows it (the teammate a
        connector suggested, "Ask them", "Pick someone else"); see `_followed`."""
        async with reading(self._sessions) as session:
            return await self._followed(session, team_id, request_id, requester_id, at)

    async def requests_by(
        self, team_id: str, user_id: str, limit: int = 15, *, session: AsyncSession | None = None
    ) -> list[IntroRequest]:
        async with reading(self._sessions, session) as session:
            rows = await session.scalars(
                select(IntroRequest)
                .where(IntroRequest.team_id == team_id, IntroRequest.requester_id == user_id)
                .order_by(IntroRequest.created_at.desc(), IntroRequest.id.desc())
                .limit(limit)
            )
            return list(rows)

    async def outcomes_to_report(
        self, team_id: str, user_id: str, name: str = "", limit: int = 15
    ) -> list[IntroRequest]:
        """`/intro outcome`: the person's intros (and cold approaches) whose outcome can still
        move on, newest first; with `name`, those whose target's name contains it."""
        reportable = [status for status in Status if next_outcomes(status)]
        query = select(IntroRequest).where(
            IntroRequest.team_id == team_id,
            IntroRequest.requester_id == user_id,
            IntroRequest.status.in_(reportable),
        )
        if name.strip():
            query = query.where(
                func.lower(IntroRequest.target_name).contains(name.strip().lower(), autoescape=True)
            )
        async with reading(self._sessions) as session:
            rows = await session.scalars(
                query.order_by(IntroRequest.created_at.desc(), IntroRequest.id.desc()).limit(limit)
            )
            return list(rows)

    async def waiting_on(
        self, team_id: str, user_id: str, limit: int = 15, *, session: AsyncSession | None = None
    ) -> list[IntroRequest]:
        async with reading(self._sessions, session) as session:
            rows = await session.scalars(
                select(IntroRequest)
                .where(
                    IntroRequest.team_id == team_id,
                    IntroRequest.connector_id == user_id,
                    # Not yet with the owner's go-ahead: not waiting on the connector.
                    IntroRequest.status.in_(list(OPEN_STATUSES - {Status.AWAITING_OWNER})),
                )
                .order_by(IntroRequest.created_at, IntroRequest.id)
                .limit(limit)
            )
            return list(rows)

    async def next_reminder(self, team_id: str, request_id: int) -> tuple[datetime, str] | None:
        """When the request's next pending reminder falls due, and which one it is."""
        async with reading(self._sessions) as session:
            row = (
                await session.execute(
                    select(OutboundMessage.due_at, OutboundMessage.data)
                    .where(
                        OutboundMessage.team_id == team_id,
                        OutboundMessage.request_id == request_id,
                        OutboundMessage.kind == MessageKind.REMINDER,
                        OutboundMessage.status == DeliveryStatus.PENDING,
                    )
                    .order_by(OutboundMessage.due_at, OutboundMessage.id)
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return row.due_at, str((row.data or {}).get("reminder", ""))

    async def history(self, request: IntroRequest, now: datetime) -> History:
        """The connector's history with the requester over the last year, before `request`:
        one statement over both directions, each an index range (team, requester, time)."""
        if not request.connector_id:
            return History()
        mine = and_(
            IntroRequest.requester_id == request.requester_id,
            IntroRequest.connector_id == request.connector_id,
        )
        theirs = and_(
            IntroRequest.requester_id == request.connector_id,
            IntroRequest.connector_id == request.requester_id,
        )
        made = IntroRequest.intro_made_at.is_not(None)

        def counted(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
            return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

        waiting = [s.value for s in OPEN_STATUSES]
        async with reading(self._sessions) as session:
            row = (
                await session.execute(
                    select(
                        counted(mine),
                        counted(mine, made),
                        counted(mine, made, IntroRequest.outcome.in_(MET_OUTCOMES)),
                        counted(mine, IntroRequest.status == Status.CONNECTOR_DECLINED),
                        counted(mine, ~made, IntroRequest.status.in_(waiting)),
                        counted(theirs, made),
                    ).where(
                        IntroRequest.team_id == request.team_id,
                        or_(mine, theirs),
                        IntroRequest.created_at >= now - HISTORY_SPAN,
                        IntroRequest.id != request.id,
                    )
                )
            ).one()
        return History(*(int(value) for value in row))

    async def secondary_connectors(self, request: IntroRequest, limit: int = 3) -> list[str]:
        """Teammates who have introduced this target or someone at this company (under any
        spelling the team merged with it) before."""
        same_target = func.lower(IntroRequest.target_name) == request.target_name.lower()
        condition = same_target
        if request.target_company_key:
            condition = same_target | IntroRequest.target_company_key.in_(
                company_keys_sql(request.team_id, request.target_company_key)
            )
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(IntroRequest.connector_id, func.count().label("intros"))
                .where(
                    IntroRequest.team_id == request.team_id,
                    IntroRequest.status.in_(list(INTRO_MADE_STATUSES)),
                    # "" is a cold approach: no one to ask.
                    IntroRequest.connector_id.not_in(
                        [request.connector_id, request.requester_id, ""]
                    ),
                    condition,
                    # Teammates Slack deactivated are no path any more.
                    IntroRequest.connector_id.not_in(
                        select(DepartedUser.user_id).where(DepartedUser.team_id == request.team_id)
                    ),
                )
                .group_by(IntroRequest.connector_id)
                .order_by(func.count().desc(), IntroRequest.connector_id)
                .limit(limit)
            )
            return [row.connector_id for row in rows]
