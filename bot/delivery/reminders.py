"""What a message says when it goes: cards with the connector's tie as it stands, and
reminders, which may be moot by then, wait for the recipient's day, or move their request on
first."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import Moot, NotYet
from bot.intro.cadence import WorkingHours, follow_up_due, zone
from bot.intro.clock import Clock
from bot.intro.directory import Directory
from bot.intro.states import Action, IllegalTransition, Status
from bot.intro.workflow import (
    FOLLOW_UP_WAIT,
    IntroWorkflow,
    pointed_from,
    tie_from,
    went_quiet_after_intro,
)
from bot.intro.workflow.plan import OUTSIDE_ASKED
from bot.intro.workflow.results import History
from bot.rendering import messages
from storage.db import reading
from storage.models import Contact, DeliveryStatus, IntroRequest, MessageKind, OutboundMessage


class Reminders:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        workflow: IntroWorkflow,
        directory: Directory | None,
        working_hours: WorkingHours | None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._workflow = workflow
        self._directory = directory
        self._working_hours = working_hours

    async def compose(
        self, message: OutboundMessage, request: IntroRequest, tz: str | None
    ) -> tuple[messages.Message, list[int]]:
        """A reminder as it goes now, in the recipient's time zone `tz`, and what its move
        promised (sent after its batch). Moot once its request moved on or a later
        reminder covers it; NotYet outside the recipient's day or working hours."""
        if request.status not in message.data.get("expects", []):
            raise Moot(f"request is {request.status} now")
        if await self.superseded(message):
            raise Moot("a later reminder covers this one")
        now = self._clock.now()
        if request.ask_again_on is not None and message.data.get("moves") == Action.ASK_AGAIN:
            # Due from the day's earliest start anywhere: held until it is that day for them.
            day_starts = datetime.combine(request.ask_again_on, dt_time(0), zone(tz))
            if now < day_starts:
                raise NotYet("the day to ask again has not come for them yet", day_starts)
        if FOLLOW_UP_WAIT in message.data:
            # Within the day of the intro, in the requester's own working day.
            wait = timedelta(seconds=message.data[FOLLOW_UP_WAIT])
            due = follow_up_due(message.created_at, wait, self._working_hours, tz)
            if now < due:
                raise NotYet("the follow-up waits a few working hours after the intro", due)
        if self._working_hours is not None:
            opens = self._working_hours.next_opening(now, tz)
            if opens > now:
                raise NotYet("outside the recipient's working hours", opens)
        request, follow_ups = await self._move_on(message, request)
        reminder = message.data["reminder"]
        # The last "has they answered?" about a connector outside the team is their stall.
        stalled = reminder == OUTSIDE_ASKED and bool(message.data.get("last"))
        secondary = (
            await self.next_paths(request)
            if reminder in ("stalled", "target_quiet") or stalled
            else []
        )
        rendered = messages.reminder(
            request,
            reminder,
            secondary,
            now=self._clock.now(),
            tz_name=tz,
            last=bool(message.data.get("last")),
        )
        return rendered, follow_ups

    async def next_paths(self, request: IntroRequest) -> list[str]:
        """Who the requester could ask next after a dead end, looked up as the message goes
        (a teammate may have declined or reached their limit since it was promised)."""
        introduced = await self._workflow.secondary_connectors(request, limit=10)
        if self._directory is None:
            return introduced[:3]
        return await self._directory.next_paths(request, introduced)

    async def _move_on(
        self, message: OutboundMessage, request: IntroRequest
    ) -> tuple[IntroRequest, list[int]]:
        """A reminder that moves its request on (the ask went quiet, the day to ask again
        came) makes the move first: compare-and-set, so only one replica makes it. A send
        taken over after a lapsed lease finds the move made, and only sends the message."""
        moves = message.data.get("moves")
        if not moves or request.status != message.data["expects"][0]:
            return request, []
        try:
            outcome = await self._workflow.system_act(request.team_id, request.id, Action(moves))
        except IllegalTransition as exc:
            if exc.status not in message.data["expects"]:
                raise Moot(f"request is {exc.status} now") from None
            moved = await self._workflow.get(request.team_id, request.id)
            return moved or request, []
        return outcome.request, outcome.message_ids

    async def superseded(self, message: OutboundMessage) -> bool:
        """After downtime several reminders may be due at once; only the latest is worth it."""
        async with reading(self._sessions) as session:
            later = await session.scalar(
                select(OutboundMessage.id)
                .where(
                    OutboundMessage.request_id == message.request_id,
                    OutboundMessage.kind == MessageKind.REMINDER,
                    OutboundMessage.id != message.id,
                    OutboundMessage.due_at > message.due_at,
                    OutboundMessage.due_at <= self._clock.now(),
                    OutboundMessage.status.in_(
                        [DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT]
                    ),
                )
                .limit(1)
            )
            return later is not None

    async def card(
        self,
        kind: MessageKind,
        request: IntroRequest,
        data: dict[str, Any],
        *,
        fresh: bool = False,
        history: History | None = None,
    ) -> messages.Message:
        """`history`: the connector's with the requester, when the change that wrote the card
        read it moments ago (else it is read here)."""
        if kind is MessageKind.CONNECTOR_CARD:
            if fresh and "stale_tie" in data:
                # A new ask's card: the tie as its review found it, moments ago.
                tie = tie_from(data["stale_tie"])
            else:
                tie = await self._stale_tie(request)
            if request.status != Status.AWAITING_CONNECTOR:
                history = None
            elif history is None:
                history = await self._workflow.history(request, self._clock.now())
            previous = await self._previous(request)
            return messages.connector_card(
                request,
                tie,
                offered=bool(data.get("offered")),
                pointed_from=pointed_from(request, previous),
                history=history,
                first_intro=_quiet_first_intro(request, previous),
            )
        if kind is MessageKind.OWNER_CARD:
            return messages.owner_card(request)
        return messages.requester_card(request, data.get("advice", []))

    async def _previous(self, request: IntroRequest) -> IntroRequest | None:
        """The request this one follows (after a dead end, a better person, a quiet target)."""
        if request.previous_request_id is None:
            return None
        return await self._workflow.get(request.team_id, request.previous_request_id)

    async def _stale_tie(self, request: IntroRequest) -> Contact | None:
        """The connector's recorded tie to the target, when over a year old and unconfirmed."""
        if self._directory is None or request.status != Status.AWAITING_CONNECTOR:
            return None
        tie = await self._directory.tie(
            request.team_id, request.connector_id, request.target_name, request.target_company
        )
        return tie if tie is not None and Directory.is_stale(tie, self._clock.now()) else None


def _quiet_first_intro(request: IntroRequest, previous: IntroRequest | None) -> IntroRequest | None:
    """The intro this request adds a second voice to: its target agreed, then went quiet
    (asking the same connector again is no second voice)."""
    if previous is None or previous.connector_id == request.connector_id:
        return None
    return previous if went_quiet_after_intro(previous) else None
