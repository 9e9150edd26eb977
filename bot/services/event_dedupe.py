"""Slack retries an event it thinks we missed (X-Slack-Retry-Num): each event id is acted on
once, remembered in the database so every replica knows it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from storage.models import ProcessedEvent


class EventDedupe:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def first_delivery(self, team_id: str, event_id: str) -> bool:
        """True the first time an event is seen; Slack's retries of it return False."""
        try:
            async with self._sessions.begin() as session:
                session.add(
                    ProcessedEvent(
                        team_id=team_id, event_id=event_id, received_at=self._clock.now()
                    )
                )
        except IntegrityError:
            return False
        return True

    async def forget_delivery(self, team_id: str, event_id: str) -> None:
        """The work for an event failed: let Slack's retry of it be acted on."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(ProcessedEvent).where(
                    ProcessedEvent.team_id == team_id, ProcessedEvent.event_id == event_id
                )
            )

    async def forget_events_before(self, moment: datetime) -> None:
        """Slack retries within minutes; a day of event ids is plenty to recognise them."""
        async with self._sessions.begin() as session:
            await session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < moment))
