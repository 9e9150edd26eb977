"""`IntroWorkflow`, the one object callers hold: requests submitted and acted on, here; offers,
cold approaches and read queries from the flows it is made of."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.intro.states import (
    ACTOR,
    REPORT_ACTION,
    Action,
    IllegalTransition,
    Role,
    Status,
)
from bot.intro.states import Outcome as OutcomeKind
from bot.intro.validation import INTRO_LINE_MAX, RequestDraft
from bot.intro.workflow import one_statement, plan
from bot.intro.workflow.cold import ColdApproaches
from bot.intro.workflow.errors import (
    DuplicateSubmission,
    InvalidSuggestion,
    UnknownChoice,
)
from bot.intro.workflow.offers import Offers
from bot.intro.workflow.outside import OutsideConnectors
from bot.intro.workflow.queries import Queries
from bot.intro.workflow.results import ActionDetails, Lease, Outcome, TieUnknown
from storage.db import reading
from storage.models import Contact, IntroRequest, MessageKind, OutboundMessage, built


def new_request(
    team_id: str, draft: RequestDraft, owner_id: str | None, now: datetime
) -> IntroRequest:
    """The request a reviewed form makes (its connector named: `review_draft()` passed)."""
    assert draft.connector is not None, "review_draft() must pass before submit()"
    # Made without an attribute event per column: one per submission, before the ack.
    return built(
        IntroRequest,
        team_id=team_id,
        requester_id=draft.requester.user_id,
        requester_name=draft.requester.name,
        connector_id=draft.connector.user_id,
        **plan.asked_for(draft),
        closeness=draft.closeness,
        source_channel_id=draft.source_channel_id,
        source_message_ts=draft.source_message_ts,
        source_permalink=draft.source_permalink,
        submission_key=draft.submission_key,
        share_name=draft.share_name,
        requester_title=draft.requester.title[:200],
        requester_email=draft.requester.email[:254],
        connector_name=draft.connector.name[:200],
        account_owner_id=owner_id,
        # A company with an account owner: the owner approves before the connector is asked.
        status=Status.AWAITING_OWNER if owner_id else Status.AWAITING_CONNECTOR,
        created_at=now,
        updated_at=now,
    )


class IntroWorkflow(Offers, ColdApproaches, OutsideConnectors, Queries):
    """Requests, transitions and the messages they promise; it knows nothing of Slack.

    Each state change and the messages it promises are written in one transaction (on
    PostgreSQL, mostly one statement); the caller then hands the returned `Outcome` to
    delivery."""

    async def submit(
        self,
        team_id: str,
        draft: RequestDraft,
        advice: list[str],
        *,
        owner_id: str | None = None,
        offer_id: int | None = None,
        lease: Lease | None = None,
        stale_tie: Contact | None | TieUnknown = TieUnknown.UNKNOWN,
    ) -> Outcome:
        """Record a request and promise its cards and reminders (those due now leased to
        `lease`, when given: its owner sends them). `stale_tie` is the connector's old tie to
        the person as the ask's review found it (None: none to ask about): the connector's
        card, when it is the first, carries it instead of looking it up as it goes out.

        A request that follows one the requester made earlier (asking someone else after a
        dead end) is linked to it; if that one is still waiting on its connector (a stall), it
        is withdrawn in the same transaction. A request made from a connector's offer
        (`offer_id`) starts accepted by them: they check with the target next (its messages
        are not leased, and its card, which asks no tie question, carries no tie).
        """
        request = new_request(team_id, draft, owner_id, self._clock.now())
        try:
            if offer_id is not None:
                return await self._store_taken_offer(team_id, offer_id, request, advice)
            if self._one_statement and draft.previous_request_id is None:
                first = self._first_messages(request, advice, owner_id, stale_tie)
                return await one_statement.store_at_once(
                    self._sessions,
                    request,
                    plan.leased(first, lease),
                    lease,
                    webhooks_everywhere=self._webhooks_everywhere,
                )
            return await self._store(team_id, draft, request, advice, owner_id, stale_tie, lease)
        except IntegrityError:
            stored = await self._submitted(team_id, draft.submission_key)
            if stored is None:
                raise
            raise DuplicateSubmission(stored) from None

    def _first_messages(
        self,
        request: IntroRequest,
        advice: list[str],
        owner_id: str | None,
        stale_tie: Contact | None | TieUnknown,
    ) -> list[OutboundMessage]:
        return plan.first_messages(
            request, advice, owner_id, stale_tie, now=request.created_at, cadence=self._cadence
        )

    async def _store(
        self,
        team_id: str,
        draft: RequestDraft,
        request: IntroRequest,
        advice: list[str],
        owner_id: str | None,
        stale_tie: Contact | None | TieUnknown,
        lease: Lease | None,
    ) -> Outcome:
        """The request, its event and its first messages in one transaction, withdrawing the
        stalled ask it follows, if any."""
        async with self._sessions.begin() as session:
            messages: list[OutboundMessage] = []
            if draft.previous_request_id is not None:
                previous = await self._previous(
                    session, team_id, draft.previous_request_id, request.requester_id
                )
                if previous is not None:
                    request.previous_request_id = previous.id
                    request.name_first_connector = (
                        draft.name_first_connector and plan.went_quiet_after_intro(previous)
                    )
                    messages += await self._withdraw_stalled(session, previous)
            session.add(request)
            await session.flush()
            event = self._event(request, request.requester_id, "submit", None)
            session.add(event)
            first = self._first_messages(request, advice, owner_id, stale_tie)
            messages += plan.leased(first, lease)
            messages += await self._webhooks(session, request, [event])
            session.add_all(messages)
            await session.flush()
            return Outcome(request, plan.due_now(messages))

    @classmethod
    async def _previous(
        cls, session: AsyncSession, team_id: str, request_id: int, requester_id: str
    ) -> IntroRequest | None:
        """The requester's own earlier request a new one follows; None for anyone else's."""
        previous = await cls._find(session, team_id, request_id)
        return previous if previous is not None and previous.requester_id == requester_id else None

    async def act(
        self,
        team_id: str,
        request_id: int,
        actor_id: str,
        action: Action,
        *,
        reason: str | None = None,
        suggested_user_id: str | None = None,
        suggested_name: str | None = None,
        suggested_title: str | None = None,
        suggested_company: str | None = None,
        note: str | None = None,
        blurb: str | None = None,
        ask_again_on: str | None = None,
        tz_name: str | None = None,
        how_known: str | None = None,
        picked_name: str | None = None,
        target_email: str | None = None,
        lease: Lease | None = None,
    ) -> Outcome:
        """Apply one action, compare-and-set on the stored status. `picked_name`: the person
        the connector picked as they accept an ask for a way in. `target_email`: the target's
        email the connector gave with "intro made", for the workspace's CRM (the caller gives
        it only when the workspace has one).

        Raises UnknownRequest, NotYourRequest, or IllegalTransition (which carries the status
        the request is in now: a stale button, a double click, another replica first).
        With `lease`, the messages due now are written claimed by its owner, who sends them.
        """
        now = self._clock.now()
        details = ActionDetails(
            reason=reason,
            suggested_user_id=suggested_user_id,
            suggested_name=suggested_name,
            suggested_title=suggested_title,
            suggested_company=suggested_company,
            note=note,
            blurb=blurb,
            ask_again_on=ask_again_on,
            tz_name=tz_name,
            how_known=how_known,
            picked_name=picked_name,
            target_email=target_email,
        )
        refusal: InvalidSuggestion | None = None
        try:
            values = plan.column_changes(action, details, now)
        except InvalidSuggestion as error:
            # Raised once the press is known to be theirs, in time.
            values, refusal = {}, error
        # A pick is checked against the row before it is kept: the ORM path.
        at_once = self._in_one_statement(action) and not picked_name
        if refusal is None and at_once:
            done = await one_statement.act_at_once(
                self._sessions,
                team_id,
                request_id,
                actor_id,
                action,
                values,
                lease,
                now=now,
                cadence=self._cadence,
                webhooks_everywhere=self._webhooks_everywhere,
                crm_everywhere=self._crm_everywhere,
            )
            if done is not None:
                return done
        async with self._sessions.begin() as session:
            request, messages = await self._change(
                session,
                team_id,
                request_id,
                actor_id,
                action,
                values,
                details,
                refusal,
                lease,
                tried_at_once=at_once,
            )
            if action is Action.REPORT_NO_RESPONSE and plan.is_outside(request):
                # No teammate's nudge to offer: the next paths.
                messages += await self._dead_end_notice(session, request)
            elif action is Action.REPORT_NO_RESPONSE:
                messages += await self._after_no_response(session, request, actor_id)
            return Outcome(request, plan.due_now(messages))

    def _in_one_statement(self, action: Action) -> bool:
        """Whether the change is made in one statement (`one_statement.expressible`)."""
        return self._one_statement and one_statement.expressible(action)

    async def _change(
        self,
        session: AsyncSession,
        team_id: str,
        request_id: int,
        actor_id: str,
        action: Action,
        values: dict[str, Any],
        details: ActionDetails,
        refusal: InvalidSuggestion | None,
        lease: Lease | None,
        *,
        tried_at_once: bool = False,
    ) -> tuple[IntroRequest, list[OutboundMessage]]:
        """The change on the ORM path: one UPDATE where it can tell the status left (`_move`);
        else (or when that matched nothing, or the single statement already tried) a plain
        load, which tells which refusal, then the compare-and-set (`_transition`)."""
        suggested = details.get("suggested_user_id")
        person = details.get("suggested_name")
        picked = details.get("picked_name")
        moved = None
        if refusal is None and not tried_at_once:
            moved = await self._move(session, team_id, request_id, actor_id, action, values)
        if moved is not None:
            request, current = moved
            # Raising rolls the change back, as if it had never been made.
            plan.check_suggestion(request, action, suggested, person)
            plan.check_pick(request, action, picked)
            return request, await self._record(session, request, actor_id, action, current, lease)
        request = await self._load(session, team_id, request_id)
        plan.permitted(request, actor_id, action)
        if refusal is not None:
            raise refusal
        plan.check_suggestion(request, action, suggested, person)
        plan.check_pick(request, action, picked)
        messages = await self._transition(session, request, actor_id, action, values, lease)
        return request, messages

    async def report_outcome(
        self,
        team_id: str,
        request_id: int,
        actor_id: str,
        outcome: str,
        *,
        lease: Lease | None = None,
    ) -> Outcome:
        """The requester reports an outcome stage (a button's value): forward steps only. An
        unknown stage is refused (UnknownChoice)."""
        if outcome not in set(OutcomeKind):
            raise UnknownChoice(outcome)
        action = REPORT_ACTION[OutcomeKind(outcome)]
        return await self.act(team_id, request_id, actor_id, action, lease=lease)

    def valid_ask_again_on(self, text: str | None, tz_name: str | None = None) -> date:
        """The day the connector will ask the target again: a date after today where they are
        (`tz_name`; UTC when unknown)."""
        return plan.valid_ask_again_on(text, tz_name, self._clock.now())

    async def system_act(self, team_id: str, request_id: int, action: Action) -> Outcome:
        """introbot's own move when a reminder falls due (the ask went quiet, the day to ask
        again came): compare-and-set, so of several replicas only one makes it."""
        assert ACTOR[action] is Role.SYSTEM, action
        async with self._sessions.begin() as session:
            request = await self._load(session, team_id, request_id)
            messages = await self._transition(session, request, plan.SYSTEM_ACTOR, action, {})
            return Outcome(request, plan.due_now(messages))

    async def qualify(self, team_id: str, request_id: int, actor_id: str, answer: str) -> Outcome:
        """The connector's answer to "would they take your call?", while the ask waits on them;
        the card is refreshed (a "not really" suggests declining or someone else)."""
        if answer not in plan.QUALIFY_ANSWERS:
            raise UnknownChoice(answer)
        return await self._update_card(
            team_id,
            request_id,
            actor_id,
            Status.AWAITING_CONNECTOR,
            Action.ACCEPT,
            {"connector_closeness": answer},
        )

    async def choose_named_ask(
        self, team_id: str, request_id: int, actor_id: str, named: bool
    ) -> Outcome:
        """The connector switches the opt-in ask between anonymous and named (named only if the
        requester allowed it), while checking with the target; the card is refreshed."""
        if named:
            async with reading(self._sessions) as session:
                request = await self._load(session, team_id, request_id)
            if actor_id == request.connector_id and not request.share_name:
                raise InvalidSuggestion("they asked not to be named until the target agrees")
        return await self._update_card(
            team_id,
            request_id,
            actor_id,
            Status.CHECKING_WITH_TARGET,
            Action.TARGET_AGREED,
            {"named_ask": named},
        )

    async def edit_intro_line(
        self, team_id: str, request_id: int, actor_id: str, line: str
    ) -> Outcome:
        """The connector's own line in the intro email on why the two should meet (blank: none),
        while checking with the target; the card is refreshed with the email as it now reads."""
        return await self._update_card(
            team_id,
            request_id,
            actor_id,
            Status.CHECKING_WITH_TARGET,
            Action.TARGET_AGREED,
            {"intro_line": line.strip()[:INTRO_LINE_MAX]},
        )

    async def _update_card(
        self,
        team_id: str,
        request_id: int,
        actor_id: str,
        status: Status,
        action: Action,
        values: dict[str, Any],
    ) -> Outcome:
        """Change the connector's details on a request in `status` (compare-and-set) and
        refresh their card; `action` names what a stale press was for."""
        async with self._sessions.begin() as session:
            request = await self._load_as(session, team_id, request_id, Role.CONNECTOR, actor_id)
            changed = await session.scalar(
                update(IntroRequest)
                .where(
                    IntroRequest.id == request.id,
                    IntroRequest.team_id == team_id,
                    IntroRequest.status == status,
                )
                .values(updated_at=self._clock.now(), **values)
                .returning(IntroRequest)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            if changed is None:
                raise IllegalTransition(Status(request.status), action)
            refresh = self._message(
                request,
                MessageKind.CARD_REFRESH,
                request.connector_id,
                plan.refresh_key(MessageKind.CONNECTOR_CARD, uuid.uuid4().hex),
                {"card": MessageKind.CONNECTOR_CARD.value},
            )
            session.add(refresh)
            await session.flush()
            return Outcome(request, [refresh])

    async def report_undeliverable(self, message: OutboundMessage, error: str) -> list[int]:
        """Tell the requester, once per request, when the ask could not reach the connector."""
        if message.request_id is None:
            return []
        async with self._sessions.begin() as session:
            request = await session.get(IntroRequest, message.request_id)
            if request is None or message.recipient_id == request.requester_id:
                return []
            notice = self._notice(request, request.requester_id, "undeliverable", error=error)
            if await self._written_before(session, notice):
                return []
            session.add(notice)
            await session.flush()
            return [notice.id]

    async def attach_permalink(self, request: IntroRequest, permalink: str) -> None:
        """The link to the message a request was made from, found after it was stored: on
        the row, and on this copy (its cards go out from it)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(IntroRequest)
                .where(IntroRequest.id == request.id, IntroRequest.team_id == request.team_id)
                .values(source_permalink=permalink)
            )
        request.source_permalink = permalink
