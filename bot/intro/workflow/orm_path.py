"""The ORM write path, on any database: a state change loaded, checked, compared-and-set and
recorded in a session, writing what `plan` decides. Every flow of the workflow builds on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.cadence import Cadence
from bot.intro.clock import Clock
from bot.intro.crm import stage_of
from bot.intro.states import ACTOR, Action, IllegalTransition, Role, Status, at_dead_end
from bot.intro.workflow import plan
from bot.intro.workflow.errors import UnknownRequest
from bot.intro.workflow.results import Lease
from storage.db import on_postgres, reading
from storage.models import (
    CARD_KINDS,
    CrmConnection,
    DeliveryStatus,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    RequestEvent,
    Webhook,
)


class OrmPath:
    """The workflow's sessions, clock and cadence, and the ORM write path on them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        cadence: Cadence | None = None,
        *,
        one_statement: bool | None = None,
        webhooks_everywhere: bool = False,
        crm_everywhere: bool = False,
    ) -> None:
        self._sessions = sessions
        # Every workspace's changes go to a webhook (a self-hosted workspace's
        # INTROBOT_WEBHOOK_URL); else only those of workspaces whose admin set one.
        self._webhooks_everywhere = webhooks_everywhere
        # Every workspace's intros are pushed to a CRM (one set in the install's settings);
        # else only those of workspaces whose admin connected one.
        self._crm_everywhere = crm_everywhere
        self._clock = clock
        self._cadence = cadence or Cadence()
        # Whether changes one statement can express are written that way: on PostgreSQL,
        # unless told otherwise (a test comparing the two paths).
        self._one_statement = on_postgres(sessions) if one_statement is None else one_statement

    def _message(
        self,
        request: IntroRequest,
        kind: MessageKind,
        recipient_id: str,
        key: str,
        data: dict[str, Any] | None = None,
        *,
        due_at: datetime | None = None,
    ) -> OutboundMessage:
        return plan.message(
            request, kind, recipient_id, key, data, now=self._clock.now(), due_at=due_at
        )

    def _notice(
        self, request: IntroRequest, recipient_id: str, event: str, key: str = "", **data: object
    ) -> OutboundMessage:
        """A notice of `event` about `request`, keyed by the event unless `key` is given."""
        return self._message(
            request, MessageKind.NOTICE, recipient_id, key or event, {"event": event, **data}
        )

    def _event(
        self, request: IntroRequest, actor_id: str, action: str, from_status: str | None
    ) -> RequestEvent:
        return RequestEvent(
            team_id=request.team_id,
            request_id=request.id,
            actor_id=actor_id,
            action=action,
            from_status=from_status,
            to_status=request.status,
            at=self._clock.now(),
        )

    async def _webhooks(
        self, session: AsyncSession, request: IntroRequest, events: list[RequestEvent]
    ) -> list[OutboundMessage]:
        """The POSTs of these state changes (events in `session`) to the workspace's webhook,
        if it has one: written with the change, like its messages."""
        if not self._webhooks_everywhere:
            hooked = await session.scalar(
                select(Webhook.team_id).where(Webhook.team_id == request.team_id)
            )
            if hooked is None:
                return []
        await session.flush()  # the events' ids, which key the POSTs
        now = self._clock.now()
        return [plan.webhook_message(request, event.id, now=now) for event in events]

    async def _crm_pushes(
        self, session: AsyncSession, request: IntroRequest, events: list[RequestEvent]
    ) -> list[OutboundMessage]:
        """The pushes to the workspace's CRM of the stages these changes reached (an intro
        made, a cold approach, an outcome), if it has a CRM: written with the change, one per
        request and stage however often it is reached."""
        staged = [(stage, event) for event in events if (stage := stage_of(event.action))]
        if not staged:
            return []
        if not self._crm_everywhere:
            connected = await session.scalar(
                select(CrmConnection.team_id).where(CrmConnection.team_id == request.team_id)
            )
            if connected is None:
                return []
        await session.flush()  # the events' ids, which the pushes name
        now = self._clock.now()
        pushes: list[OutboundMessage] = []
        for stage, event in staged:
            push = plan.crm_message(request, stage, event.id, now=now)
            if all(p.dedupe_key != push.dedupe_key for p in pushes) and not (
                await self._written_before(session, push)
            ):
                pushes.append(push)
        return pushes

    @staticmethod
    async def _written_before(session: AsyncSession, message: OutboundMessage) -> bool:
        """Whether a message with `message`'s dedupe key is stored already: a notice sent
        once however often what prompts it happens."""
        written = await session.scalar(
            select(OutboundMessage.id).where(
                OutboundMessage.team_id == message.team_id,
                OutboundMessage.dedupe_key == message.dedupe_key,
            )
        )
        return written is not None

    @staticmethod
    async def _find(session: AsyncSession, team_id: str, request_id: int) -> IntroRequest | None:
        return await session.scalar(
            select(IntroRequest).where(
                IntroRequest.id == request_id, IntroRequest.team_id == team_id
            )
        )

    @classmethod
    async def _load(cls, session: AsyncSession, team_id: str, request_id: int) -> IntroRequest:
        request = await cls._find(session, team_id, request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    @classmethod
    async def _load_as(
        cls, session: AsyncSession, team_id: str, request_id: int, role: Role, actor_id: str
    ) -> IntroRequest:
        """The request, if `actor_id` is its `role`; else UnknownRequest or NotYourRequest."""
        request = await cls._load(session, team_id, request_id)
        plan.check_party(request, role, actor_id)
        return request

    async def _submitted(self, team_id: str, submission_key: str | None) -> IntroRequest | None:
        """The request a form (or a cold approach) with this key stored already, if any."""
        if submission_key is None:
            return None
        async with reading(self._sessions) as session:
            return await session.scalar(
                select(IntroRequest).where(
                    IntroRequest.team_id == team_id,
                    IntroRequest.submission_key == submission_key,
                )
            )

    @classmethod
    async def _followed(
        cls,
        session: AsyncSession,
        team_id: str,
        request_id: int,
        requester_id: str,
        at: Status | None = None,
    ) -> IntroRequest:
        """The requester's own earlier request, where asking someone else or going in cold
        is offered: at `at`, or else at any dead end. Raises UnknownRequest, NotYourRequest,
        or IllegalTransition with the status it is in now."""
        request = await cls._load_as(session, team_id, request_id, Role.REQUESTER, requester_id)
        if not (request.status == at if at is not None else at_dead_end(request.status)):
            raise IllegalTransition(Status(request.status), Action.REROUTE)
        return request

    async def _withdraw_stalled(
        self, session: AsyncSession, previous: IntroRequest
    ) -> list[OutboundMessage]:
        """Withdraw the request a new one replaces, if it is still waiting on its connector."""
        if previous.status != Status.AWAITING_CONNECTOR:
            return []
        return await self._transition(session, previous, previous.requester_id, Action.REROUTE, {})

    async def _move(
        self,
        session: AsyncSession,
        team_id: str,
        request_id: int,
        actor_id: str,
        action: Action,
        values: dict[str, Any],
    ) -> tuple[IntroRequest, Status] | None:
        """Load, permission check and compare-and-set in one UPDATE ... RETURNING: the request
        as changed and the status it left; None when no row matched (or the action's edges
        cannot be told apart by where they lead), for the caller to find out why."""
        if not plan.movable(action):
            return None
        edges, party = plan.EDGES[action], plan.PARTY_COLUMN[ACTOR[action]]
        sources = list(edges)
        new_status: Any = (
            edges[sources[0]]
            if len(sources) == 1
            else case({str(s): str(t) for s, t in edges.items()}, value=IntroRequest.status)
        )
        move = (
            update(IntroRequest)
            .where(
                IntroRequest.id == request_id,
                IntroRequest.team_id == team_id,
                IntroRequest.status.in_(sources),
                getattr(IntroRequest, party) == actor_id,
            )
            .values(status=new_status, updated_at=self._clock.now(), **values)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        request = await session.scalar(move.returning(IntroRequest))
        if request is None:
            return None
        return request, plan.SOURCE_OF[(action, Status(request.status))]

    async def _transition(
        self,
        session: AsyncSession,
        request: IntroRequest,
        actor_id: str,
        action: Action,
        values: dict[str, Any],
        lease: Lease | None = None,
    ) -> list[OutboundMessage]:
        """The compare-and-set, its event, and every message it promises, in `session`."""
        now = self._clock.now()
        current, new = plan.permitted(request, actor_id, action)
        # RETURNING brings the row back into `request` (populate_existing): no second SELECT.
        changed = await session.scalar(
            update(IntroRequest)
            .where(
                IntroRequest.id == request.id,
                IntroRequest.team_id == request.team_id,
                IntroRequest.status == current,
            )
            .values(status=new, updated_at=now, **values)
            .returning(IntroRequest)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if changed is None:
            await session.refresh(request)
            raise IllegalTransition(Status(request.status), action)
        return await self._record(session, request, actor_id, action, current, lease)

    async def _record(
        self,
        session: AsyncSession,
        request: IntroRequest,
        actor_id: str,
        action: Action,
        current: Status,
        lease: Lease | None = None,
    ) -> list[OutboundMessage]:
        """A made transition's event and every message it promises, in `session`."""
        event = self._event(request, actor_id, action, current)
        session.add(event)
        await session.flush()
        cards, moot = await self._cards_and_moot(session, request)
        await self._cancel(session, moot)
        promised = plan.promised(
            request, action, event.id, cards, now=self._clock.now(), cadence=self._cadence
        )
        messages = plan.leased(promised, lease)
        messages += await self._webhooks(session, request, [event])
        messages += await self._crm_pushes(session, request, [event])
        session.add_all(messages)
        await session.flush()
        return messages

    @staticmethod
    async def _cards_and_moot(
        session: AsyncSession, request: IntroRequest
    ) -> tuple[dict[MessageKind, str], list[int]]:
        """The request's cards (kind -> recipient), to refresh; and its pending reminders that
        the state has moved on past (`plan.outdated`). One SELECT for both."""
        rows = await session.execute(
            select(
                OutboundMessage.id,
                OutboundMessage.kind,
                OutboundMessage.recipient_id,
                OutboundMessage.data,
            )
            .where(
                OutboundMessage.request_id == request.id,
                or_(
                    OutboundMessage.kind.in_(CARD_KINDS),
                    (OutboundMessage.kind == MessageKind.REMINDER)
                    & (OutboundMessage.status == DeliveryStatus.PENDING),
                ),
            )
            .order_by(OutboundMessage.id)
        )
        cards: dict[MessageKind, str] = {}
        reminders: list[tuple[int, dict[str, Any] | None]] = []
        for message_id, kind, recipient, data in rows:
            if kind != MessageKind.REMINDER:
                cards[MessageKind(kind)] = recipient
            else:
                reminders.append((message_id, data))
        return cards, plan.outdated(reminders, request.status)

    @staticmethod
    async def _cancel(session: AsyncSession, moot: list[int]) -> None:
        """Cancel reminders the moment the state moves on (those not sent meanwhile)."""
        if moot:
            await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_(moot),
                    OutboundMessage.status == DeliveryStatus.PENDING,
                )
                .values(status=DeliveryStatus.CANCELLED)
                .execution_options(synchronize_session=False)
            )
