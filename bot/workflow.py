"""The intro workflow: requests, transitions and the messages they promise.

It knows nothing of Slack. Each state change and the messages it promises are written in one
transaction; the caller then hands the returned message ids to delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.states import ACTOR, OPEN_STATUSES, Action, IllegalTransition, Role, Status, next_status
from bot.states import TransitionError as TransitionError
from bot.validation import RequestDraft
from storage.models import IntroRequest, MessageKind, OutboundMessage, RequestEvent


class UnknownRequest(TransitionError):
    def __init__(self, request_id: int) -> None:
        super().__init__(f"no intro request {request_id}")
        self.request_id = request_id


class NotYourRequest(TransitionError):
    def __init__(self, role: Role, party_id: str) -> None:
        super().__init__(f"only the request's {role.value} can do that")
        self.role = role
        self.party_id = party_id


class InvalidSuggestion(TransitionError):
    pass


@dataclass(frozen=True)
class Outcome:
    request: IntroRequest
    message_ids: list[int]


class IntroWorkflow:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def submit(self, team_id: str, draft: RequestDraft, advice: list[str]) -> Outcome:
        assert draft.connector is not None, "review_draft() must pass before submit()"
        now = self._clock.now()
        request = IntroRequest(
            team_id=team_id,
            requester_id=draft.requester.user_id,
            requester_name=draft.requester.name,
            connector_id=draft.connector.user_id,
            target_name=draft.target_name.strip(),
            target_company=draft.target_company.strip(),
            reason=draft.reason.strip(),
            blurb=draft.blurb.strip(),
            closeness=draft.closeness,
            source_channel_id=draft.source_channel_id,
            source_message_ts=draft.source_message_ts,
            source_permalink=draft.source_permalink,
            redirected_from_id=draft.redirected_from_id,
            status=Status.AWAITING_CONNECTOR,
            created_at=now,
            updated_at=now,
        )
        async with self._sessions.begin() as session:
            session.add(request)
            await session.flush()
            session.add(
                RequestEvent(
                    team_id=team_id,
                    request_id=request.id,
                    actor_id=request.requester_id,
                    action="submit",
                    from_status=None,
                    to_status=request.status,
                    at=now,
                )
            )
            messages = [
                self._message(request, MessageKind.CONNECTOR_CARD, request.connector_id, "card"),
                self._message(
                    request,
                    MessageKind.REQUESTER_CARD,
                    request.requester_id,
                    "card",
                    {"advice": advice},
                ),
            ]
            session.add_all(messages)
            await session.flush()
            return Outcome(request, [m.id for m in messages])

    async def act(
        self,
        team_id: str,
        request_id: int,
        actor_id: str,
        action: Action,
        *,
        reason: str | None = None,
        suggested_user_id: str | None = None,
        note: str | None = None,
    ) -> Outcome:
        """Apply one action, compare-and-set on the stored status.

        Raises UnknownRequest, NotYourRequest, or IllegalTransition (which carries the status
        the request is in now: a stale button, a double click, another replica first).
        """
        now = self._clock.now()
        async with self._sessions.begin() as session:
            request = await self._load(session, team_id, request_id)
            current, new = self._permitted(request, actor_id, action)
            role = ACTOR[action]
            values: dict[str, Any] = {"status": new, "updated_at": now}
            if action is Action.DECLINE:
                values["decline_reason"] = (reason or "").strip() or None
            if action is Action.REDIRECT:
                if not suggested_user_id:
                    raise InvalidSuggestion("pick a teammate to suggest")
                if suggested_user_id in (request.requester_id, request.connector_id):
                    raise InvalidSuggestion("suggest someone other than the two of you")
                values["suggested_user_id"] = suggested_user_id
                values["suggestion_note"] = (note or "").strip() or None
            result = await session.execute(
                update(IntroRequest)
                .where(
                    IntroRequest.id == request.id,
                    IntroRequest.team_id == team_id,
                    IntroRequest.status == current,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                await session.refresh(request)
                raise IllegalTransition(Status(request.status), action)
            await session.refresh(request)
            event = RequestEvent(
                team_id=team_id,
                request_id=request.id,
                actor_id=actor_id,
                action=action,
                from_status=current,
                to_status=new,
                at=now,
            )
            session.add(event)
            await session.flush()
            messages = [
                self._message(
                    request,
                    MessageKind.CARD_REFRESH,
                    recipient,
                    f"refresh:{card}:{event.id}",
                    {"card": card},
                )
                for card, recipient in (
                    (MessageKind.CONNECTOR_CARD, request.connector_id),
                    (MessageKind.REQUESTER_CARD, request.requester_id),
                )
            ]
            if role is Role.CONNECTOR:
                messages.append(
                    self._message(
                        request,
                        MessageKind.NOTICE,
                        request.requester_id,
                        f"notice:{event.id}",
                        {"event": action.value},
                    )
                )
            session.add_all(messages)
            await session.flush()
            return Outcome(request, [m.id for m in messages])

    async def check(
        self, team_id: str, request_id: int, actor_id: str, action: Action
    ) -> IntroRequest:
        """Raise what act() would raise, changing nothing: before opening a modal for it."""
        async with self._sessions() as session:
            request = await self._load(session, team_id, request_id)
            self._permitted(request, actor_id, action)
            return request

    @staticmethod
    def _permitted(request: IntroRequest, actor_id: str, action: Action) -> tuple[Status, Status]:
        role = ACTOR[action]
        party = request.connector_id if role is Role.CONNECTOR else request.requester_id
        if actor_id != party:
            raise NotYourRequest(role, party)
        current = Status(request.status)
        return current, next_status(current, action)

    async def get(self, team_id: str, request_id: int) -> IntroRequest | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(IntroRequest).where(
                    IntroRequest.id == request_id, IntroRequest.team_id == team_id
                )
            )

    async def requests_by(self, team_id: str, user_id: str, limit: int = 15) -> list[IntroRequest]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(IntroRequest)
                .where(IntroRequest.team_id == team_id, IntroRequest.requester_id == user_id)
                .order_by(IntroRequest.created_at.desc(), IntroRequest.id.desc())
                .limit(limit)
            )
            return list(rows)

    async def waiting_on(self, team_id: str, user_id: str, limit: int = 15) -> list[IntroRequest]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(IntroRequest)
                .where(
                    IntroRequest.team_id == team_id,
                    IntroRequest.connector_id == user_id,
                    IntroRequest.status.in_(list(OPEN_STATUSES)),
                )
                .order_by(IntroRequest.created_at, IntroRequest.id)
                .limit(limit)
            )
            return list(rows)

    async def count_involving(self, team_id: str, user_id: str) -> int:
        async with self._sessions() as session:
            total = await session.scalar(
                select(func.count())
                .select_from(IntroRequest)
                .where(
                    IntroRequest.team_id == team_id,
                    (IntroRequest.requester_id == user_id) | (IntroRequest.connector_id == user_id),
                )
            )
            return int(total or 0)

    async def _load(self, session: AsyncSession, team_id: str, request_id: int) -> IntroRequest:
        request = await session.scalar(
            select(IntroRequest).where(
                IntroRequest.id == request_id, IntroRequest.team_id == team_id
            )
        )
        if request is None:
            raise UnknownRequest(request_id)
        return request

    def _message(
        self,
        request: IntroRequest,
        kind: MessageKind,
        recipient_id: str,
        key: str,
        data: dict[str, Any] | None = None,
    ) -> OutboundMessage:
        now = self._clock.now()
        return OutboundMessage(
            team_id=request.team_id,
            request_id=request.id,
            dedupe_key=f"request:{request.id}:{kind.value}:{key}",
            kind=kind,
            recipient_id=recipient_id,
            data=data or {},
            due_at=now,
            created_at=now,
            attempts=0,
            status="pending",
        )
