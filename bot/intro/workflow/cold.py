"""Going in cold: the requester writes to the target directly, with no intro, and the funnel
counts the approach beside warm intros."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bot.intro.people import Teammate
from bot.intro.states import Status
from bot.intro.validation import RequestDraft
from bot.intro.workflow import plan
from bot.intro.workflow.errors import DuplicateSubmission, InvalidSuggestion
from bot.intro.workflow.orm_path import OrmPath
from bot.intro.workflow.results import Outcome
from storage.models import IntroRequest, OutboundMessage


def cold_submission_key(previous_request_id: int) -> str:
    """A cold approach from an earlier request is made once, however often it is pressed."""
    return f"cold:{previous_request_id}"


def cold_request(
    team_id: str,
    requester: Teammate,
    source: IntroRequest | RequestDraft,
    previous: IntroRequest | None,
    now: datetime,
) -> IntroRequest:
    """A cold approach: no connector, the target, reason and note from `source` (an earlier
    request, `previous`, or the form), the requester's details as known now or else then."""
    return IntroRequest(
        team_id=team_id,
        requester_id=requester.user_id,
        requester_name=requester.name or (previous.requester_name if previous else ""),
        connector_id="",  # no one introduces a cold approach
        **plan.asked_for(source),
        previous_request_id=previous.id if previous else None,
        submission_key=(cold_submission_key(previous.id) if previous else source.submission_key),
        requester_title=(requester.title or (previous.requester_title if previous else ""))[:200],
        requester_email=(requester.email or (previous.requester_email if previous else ""))[:254],
        status=Status.WENT_COLD,
        went_cold_at=now,
        created_at=now,
        updated_at=now,
    )


class ColdApproaches(OrmPath):
    async def go_cold(
        self,
        team_id: str,
        requester: Teammate,
        draft: RequestDraft | None = None,
        *,
        previous_request_id: int | None = None,
    ) -> Outcome:
        """The requester writes to the target directly: a request in WENT_COLD, with no
        connector, whose notice carries the note as a first message ready to paste.

        From an earlier request (a dead end, `previous_request_id`), its target, reason and
        note are used, it is linked, and a stalled one is withdrawn; pressing twice records
        one approach. From the form (`draft`), what was typed there."""
        try:
            return await self._store_cold(team_id, requester, draft, previous_request_id)
        except IntegrityError:
            if previous_request_id:
                key: str | None = cold_submission_key(previous_request_id)
            else:
                key = draft.submission_key if draft else None
            stored = await self._submitted(team_id, key)
            if stored is None:
                raise
            raise DuplicateSubmission(stored) from None

    async def _store_cold(
        self,
        team_id: str,
        requester: Teammate,
        draft: RequestDraft | None,
        previous_request_id: int | None,
    ) -> Outcome:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            messages: list[OutboundMessage] = []
            previous = None
            if previous_request_id is not None:
                previous = await self._followed(
                    session, team_id, previous_request_id, requester.user_id
                )
            source = previous or draft
            assert source is not None, "go_cold() needs an earlier request or a draft"
            if previous is not None and previous.way_in and previous.intro_made_at is None:
                # The requester was never told whom its connector picked, if anyone.
                raise InvalidSuggestion("an ask for a way in has no one to write to yet")
            request = cold_request(team_id, requester, source, previous, now)
            if previous is not None:
                messages += await self._withdraw_stalled(session, previous)
            session.add(request)
            await session.flush()
            event = self._event(request, request.requester_id, "go_cold", None)
            session.add(event)
            messages.append(self._notice(request, request.requester_id, "went_cold"))
            messages += await self._webhooks(session, request, [event])
            messages += await self._crm_pushes(session, request, [event])
            session.add_all(messages)
            await session.flush()
            return Outcome(request, plan.due_now(messages))
