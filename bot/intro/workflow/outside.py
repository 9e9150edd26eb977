"""Connectors outside the team: a request whose connector has no Slack account. The requester
forwards the ask and reports each of the connector's answers; the request goes through the
same states as any other, on the ORM path (`plan.connector_side` says who hears what)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.intro.outside import OutsideConnector
from bot.intro.states import OPEN_STATUSES, Status
from bot.intro.validation import RequestDraft
from bot.intro.workflow import plan
from bot.intro.workflow.errors import DuplicateSubmission
from bot.intro.workflow.orm_path import OrmPath
from bot.intro.workflow.results import Lease, Outcome
from storage.db import reading
from storage.models import IntroRequest, WorkspaceSettings


def outside_request(
    team_id: str,
    draft: RequestDraft,
    connector: OutsideConnector,
    owner_id: str | None,
    now: datetime,
) -> IntroRequest:
    """The request a reviewed form with a connector outside the team makes: no connector id,
    the connector's name, email and ties as given."""
    return IntroRequest(
        team_id=team_id,
        requester_id=draft.requester.user_id,
        requester_name=draft.requester.name,
        connector_id="",  # no Slack account: the requester reports their answers
        connector_outside=True,
        connector_name=connector.name[:200],
        connector_email=connector.email[:254],
        connector_knows_target=connector.knows_target,
        requester_knows_connector=connector.knows_them,
        **plan.asked_for(draft),
        source_channel_id=draft.source_channel_id,
        source_message_ts=draft.source_message_ts,
        submission_key=draft.submission_key,
        requester_title=draft.requester.title[:200],
        requester_email=draft.requester.email[:254],
        account_owner_id=owner_id,
        status=Status.AWAITING_OWNER if owner_id else Status.AWAITING_CONNECTOR,
        created_at=now,
        updated_at=now,
    )


class OutsideConnectors(OrmPath):
    async def submit_outside(
        self,
        team_id: str,
        draft: RequestDraft,
        connector: OutsideConnector,
        advice: list[str],
        *,
        owner_id: str | None = None,
        lease: Lease | None = None,
    ) -> Outcome:
        """Record a request to a connector outside the team: its event, the requester's card
        (which carries the ask to forward and its steps), or the account owner's card first,
        and the reminders asking the requester what the connector said. The same form twice
        stores one request (DuplicateSubmission)."""
        now = self._clock.now()
        request = outside_request(team_id, draft, connector, owner_id, now)
        try:
            async with self._sessions.begin() as session:
                session.add(request)
                await session.flush()
                event = self._event(request, request.requester_id, "submit", None)
                session.add(event)
                first = plan.first_messages(
                    request, advice, owner_id, now=now, cadence=self._cadence
                )
                messages = plan.leased(first, lease)
                messages += await self._webhooks(session, request, [event])
                session.add_all(messages)
                await session.flush()
                return Outcome(request, plan.due_now(messages))
        except IntegrityError:
            stored = await self._submitted(team_id, draft.submission_key)
            if stored is None:
                raise
            raise DuplicateSubmission(stored) from None

    async def open_asks_to_outside(self, team_id: str, email: str) -> list[IntroRequest]:
        """The workspace's open asks to the connector outside the team with this email,
        oldest first (the duplicate-ask and pacing checks)."""
        async with reading(self._sessions) as session:
            rows = await session.scalars(
                select(IntroRequest)
                .where(
                    IntroRequest.team_id == team_id,
                    IntroRequest.connector_email == email.strip().lower(),
                    IntroRequest.status.in_([str(s) for s in OPEN_STATUSES]),
                    IntroRequest.connector_outside.is_(True),
                )
                .order_by(IntroRequest.created_at)
            )
            return list(rows)

    async def enforces_pacing(self, team_id: str) -> bool:
        """Whether the workspace refuses asks past a connector's limits (`/intro pacing`)."""
        async with reading(self._sessions) as session:
            enforce = await session.scalar(
                select(WorkspaceSettings.enforce_pacing).where(WorkspaceSettings.team_id == team_id)
            )
            return bool(enforce)
