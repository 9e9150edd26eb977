"""The intro workflow: requests, transitions and the messages they promise.

It knows nothing of Slack. Each state change and the messages it promises are written in one
transaction (on PostgreSQL, mostly one statement); the caller then hands the returned
`Outcome` to delivery.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any, TypedDict

from sqlalchemy import TextClause, bindparam, case, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import instance_state

from bot.intro.cadence import Cadence, zone
from bot.intro.clock import Clock
from bot.intro.matching import person_surname_key
from bot.intro.states import (
    ACTOR,
    INTRO_MADE_STATUSES,
    OPEN_STATUSES,
    REPORT_ACTION,
    REPORTED,
    TRANSITIONS,
    Action,
    IllegalTransition,
    OfferStatus,
    Role,
    Status,
    at_dead_end,
    next_outcomes,
    next_status,
)
from bot.intro.states import Outcome as OutcomeKind
from bot.intro.states import TransitionError as TransitionError
from bot.intro.validation import RequestDraft, Teammate
from storage.db import autocommit, on_postgres, reading
from storage.models import (
    CARD_KINDS,
    Contact,
    DeliveryStatus,
    DepartedUser,
    IntroOffer,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    RequestEvent,
    UTCDateTime,
)

# The connector's answers to "would they take your call?" (labels.json qualify).
QUALIFY_ANSWERS = ("well", "somewhat", "not_really")
# The column that keeps the date each outcome stage was reported.
STAGE_DATE = {
    OutcomeKind.MEETING_HELD: "meeting_at",
    OutcomeKind.OPPORTUNITY: "opportunity_at",
    OutcomeKind.CLOSED_WON: "won_at",
    OutcomeKind.CLOSED_LOST: "lost_at",
}
# Reminders asking how a meeting or an opportunity went, in the status each is asked in.
STAGE_REMINDERS = (Status.MEETING_HELD, Status.OPPORTUNITY)
# Events the bot itself records about a request (not transitions).
SECONDARY_OFFERED = "secondary_offer"
BUMP_SENT = "bump"
# Who takes the system's actions (a reminder that moves the request on), in its events.
SYSTEM_ACTOR = "introbot"
# The earliest a calendar day starts anywhere (UTC+14): a reminder for a day is due from then,
# and delivery holds it until that day has come in the recipient's own time zone.
EARLIEST_OFFSET = timedelta(hours=14)


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


class DuplicateSubmission(Exception):
    """The same form was submitted again (a double click, or two replicas): stored once."""

    def __init__(self, request: IntroRequest) -> None:
        super().__init__(f"request {request.id} was already stored from this form")
        self.request = request


class UnknownOffer(TransitionError):
    def __init__(self, offer_id: int) -> None:
        super().__init__(f"no intro offer {offer_id}")


class OfferAnswered(TransitionError):
    """The offer was taken or passed already (a second press, or the other button first)."""

    def __init__(self, offer: IntroOffer) -> None:
        super().__init__(f"offer {offer.id} is {offer.status}")
        # Plain values: the row is expired once its transaction rolls back.
        self.status = OfferStatus(offer.status)
        self.connector_id = offer.connector_id


class OfferAlreadyMade(TransitionError):
    """The connector offered this teammate this person already, and it is still unanswered."""


class ActionDetails(TypedDict, total=False):
    """What a person adds to an action in a form (see IntroWorkflow.act)."""

    reason: str | None
    suggested_user_id: str | None
    note: str | None
    blurb: str | None
    ask_again_on: str | None
    tz_name: str | None  # the presser's time zone (IANA name): whose "today" a day is after


class TieUnknown(Enum):
    """No review looked for the connector's tie to the person: their card looks it up."""

    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Lease:
    """The claim on a state change's messages due now, taken as they are written by the
    process that sends them at once: no other sender touches them until `until` (after a
    crash mid-send, the sweep takes them over then)."""

    owner: str
    until: datetime


@dataclass(frozen=True)
class Outcome:
    request: IntroRequest
    # The messages due now as written (leased, when the caller passed a lease), and the
    # request's cards as the change found them: what delivery would otherwise read again.
    due_now: list[OutboundMessage] = field(default_factory=list)
    cards: dict[tuple[int, str], OutboundMessage] | None = None

    @property
    def message_ids(self) -> list[int]:
        return [m.id for m in self.due_now]


@dataclass(frozen=True)
class OfferOutcome:
    offer: IntroOffer
    message_ids: list[int]


class IntroWorkflow:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        cadence: Cadence | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._cadence = cadence or Cadence()
        self._postgres = on_postgres(sessions)

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
        assert draft.connector is not None, "review_draft() must pass before submit()"
        now = self._clock.now()
        request = IntroRequest(
            team_id=team_id,
            requester_id=draft.requester.user_id,
            requester_name=draft.requester.name,
            connector_id=draft.connector.user_id,
            target_name=draft.target_name.strip(),
            target_surname_key=person_surname_key(draft.target_name)[:150],
            target_company=draft.target_company.strip(),
            reason=draft.reason.strip(),
            blurb=draft.blurb.strip(),
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
        try:
            if offer_id is not None:
                return await self._store_taken_offer(team_id, offer_id, request, advice)
            if self._postgres and draft.previous_request_id is None:
                first = self._first_messages(request, advice, owner_id, stale_tie)
                return await self._store_at_once(request, _leased(first, lease), lease)
            return await self._store(team_id, draft, request, advice, owner_id, stale_tie, lease)
        except IntegrityError:
            if draft.submission_key is None:
                raise
            async with reading(self._sessions) as session:
                stored = await session.scalar(
                    select(IntroRequest).where(
                        IntroRequest.team_id == team_id,
                        IntroRequest.submission_key == draft.submission_key,
                    )
                )
            if stored is None:
                raise
            raise DuplicateSubmission(stored) from None

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
                    messages += await self._withdraw_stalled(session, previous)
            session.add(request)
            await session.flush()
            session.add(self._event(request, request.requester_id, "submit", None))
            first = self._first_messages(request, advice, owner_id, stale_tie)
            messages += _leased(first, lease)
            session.add_all(messages)
            await session.flush()
            return Outcome(request, _due_now(messages))

    def _first_messages(
        self,
        request: IntroRequest,
        advice: list[str],
        owner_id: str | None,
        stale_tie: Contact | None | TieUnknown = TieUnknown.UNKNOWN,
    ) -> list[OutboundMessage]:
        """A new request's cards (the owner's first, when there is one to approve) and its
        reminders."""
        if owner_id:
            first_card = self._message(request, MessageKind.OWNER_CARD, owner_id, "card")
        else:
            reviewed = {} if stale_tie is TieUnknown.UNKNOWN else {"stale_tie": tie_data(stale_tie)}
            first_card = self._message(
                request, MessageKind.CONNECTOR_CARD, request.connector_id, "card", reviewed
            )
        return [
            first_card,
            self._requester_card(request, advice),
            *self._reminders_for(request, request.created_at),
        ]

    def _requester_card(self, request: IntroRequest, advice: list[str]) -> OutboundMessage:
        return self._message(
            request, MessageKind.REQUESTER_CARD, request.requester_id, "card", {"advice": advice}
        )

    async def _store_at_once(
        self, request: IntroRequest, messages: list[OutboundMessage], lease: Lease | None
    ) -> Outcome:
        """PostgreSQL: the request, its event and its messages in one statement that commits
        on its own (one round trip). The messages are planned before the request has its id;
        the statement adds it to their keys."""
        columns = _columns(request)
        for column in IntroRequest.__table__.c:  # what the ORM would have filled in
            default = column.default
            if column.key not in columns and default is not None and default.is_scalar:
                columns[column.key] = getattr(default, "arg", None)
        params: dict[str, Any] = {f"c_{name}": value for name, value in columns.items()}
        params |= {"now": request.created_at, **_planned(messages)}
        async with autocommit(self._sessions) as connection:
            row = (
                (await connection.execute(_submit_statement(tuple(columns)), params))
                .mappings()
                .one()
            )
        request = _request_from(row)
        due_now = _written_due_now(row, request, lease)
        return Outcome(request, due_now, {})

    async def _store_taken_offer(
        self, team_id: str, offer_id: int, request: IntroRequest, advice: list[str]
    ) -> Outcome:
        """The request and the offer's taking in one transaction (compare-and-set on the
        offer): a second Take it, or two replicas, make one request. The offer's connector
        has said yes already, so the request starts with them checking with the target, as
        after Accept; its history says so (submitted, then accepted)."""
        now = request.created_at
        request.account_owner_id = None  # the connector offered it; nobody else to approve
        request.status = Status.CHECKING_WITH_TARGET
        async with self._sessions.begin() as session:
            session.add(request)
            await session.flush()
            taken = await session.scalar(
                update(IntroOffer)
                .where(
                    IntroOffer.id == offer_id,
                    IntroOffer.team_id == team_id,
                    IntroOffer.rep_id == request.requester_id,
                    IntroOffer.connector_id == request.connector_id,
                    IntroOffer.status == OfferStatus.OFFERED,
                )
                .values(status=OfferStatus.TAKEN, request_id=request.id)
                .returning(IntroOffer)
                .execution_options(synchronize_session=False)
            )
            if taken is None:
                offer = await session.scalar(
                    select(IntroOffer).where(
                        IntroOffer.id == offer_id, IntroOffer.team_id == team_id
                    )
                )
                if offer is None or offer.rep_id != request.requester_id:
                    raise UnknownOffer(offer_id)
                if offer.status == OfferStatus.OFFERED:  # the connector was changed on the form
                    raise NotYourRequest(Role.CONNECTOR, offer.connector_id)
                raise OfferAnswered(offer)
            for actor, action, before, after in (
                (request.requester_id, "submit", None, Status.AWAITING_CONNECTOR),
                (request.connector_id, Action.ACCEPT.value, Status.AWAITING_CONNECTOR, None),
            ):
                session.add(
                    RequestEvent(
                        team_id=team_id,
                        request_id=request.id,
                        actor_id=actor,
                        action=action,
                        from_status=before,
                        to_status=after or request.status,
                        at=now,
                    )
                )
            messages = [
                self._message(
                    request,
                    MessageKind.CONNECTOR_CARD,
                    request.connector_id,
                    "card",
                    {"offered": True},
                ),
                self._offer_message(
                    taken, MessageKind.OFFER_REFRESH, taken.rep_id, OfferStatus.TAKEN.value
                ),
                self._requester_card(request, advice),
            ]
            messages += self._reminders_for(request, now)
            session.add_all(messages)
            await session.flush()
            return Outcome(request, _due_now(messages))

    async def offer(
        self,
        team_id: str,
        connector_id: str,
        rep_id: str,
        target_name: str,
        company: str = "",
        reason: str = "",
    ) -> OfferOutcome:
        """A connector offers a teammate (the rep) an intro: stored, and the rep's card with
        Take it and No thanks promised. The same offer made again while unanswered is
        refused (OfferAlreadyMade); offering oneself is the caller's to refuse first."""
        if connector_id == rep_id:
            raise InvalidSuggestion("offer the intro to a teammate, not yourself")
        target_name, company = target_name.strip(), company.strip()
        async with self._sessions.begin() as session:
            already = await session.scalar(
                select(IntroOffer.id).where(
                    IntroOffer.team_id == team_id,
                    IntroOffer.connector_id == connector_id,
                    IntroOffer.rep_id == rep_id,
                    IntroOffer.status == OfferStatus.OFFERED,
                    func.lower(IntroOffer.target_name) == target_name.lower(),
                )
            )
            if already is not None:
                raise OfferAlreadyMade(f"offer {already} is still unanswered")
            offer = IntroOffer(
                team_id=team_id,
                connector_id=connector_id,
                rep_id=rep_id,
                target_name=target_name,
                company=company,
                reason=reason.strip(),
                status=OfferStatus.OFFERED,
                created_at=self._clock.now(),
            )
            session.add(offer)
            await session.flush()
            card = self._offer_message(offer, MessageKind.OFFER_CARD, rep_id, "card")
            session.add(card)
            await session.flush()
            return OfferOutcome(offer, [card.id])

    async def open_offer(self, team_id: str, offer_id: int, rep_id: str) -> IntroOffer:
        """The offer the rep is about to take, if it is theirs and still unanswered."""
        async with reading(self._sessions) as session:
            offer = await session.scalar(
                select(IntroOffer).where(IntroOffer.id == offer_id, IntroOffer.team_id == team_id)
            )
        if offer is None:
            raise UnknownOffer(offer_id)
        if offer.rep_id != rep_id:
            raise NotYourRequest(Role.REQUESTER, offer.rep_id)
        if offer.status != OfferStatus.OFFERED:
            raise OfferAnswered(offer)
        return offer

    async def pass_offer(self, team_id: str, offer_id: int, rep_id: str) -> OfferOutcome:
        """No thanks: the offer is closed (compare-and-set), the connector is told kindly and
        the rep's card says what they chose."""
        async with self._sessions.begin() as session:
            passed = await session.scalar(
                update(IntroOffer)
                .where(
                    IntroOffer.id == offer_id,
                    IntroOffer.team_id == team_id,
                    IntroOffer.rep_id == rep_id,
                    IntroOffer.status == OfferStatus.OFFERED,
                )
                .values(status=OfferStatus.PASSED)
                .returning(IntroOffer)
                .execution_options(synchronize_session=False)
            )
            if passed is None:
                await self.open_offer(team_id, offer_id, rep_id)  # raises: says which refusal
                raise AssertionError("an open offer of theirs was not closed")
            messages = [
                self._offer_message(
                    passed, MessageKind.OFFER_REFRESH, rep_id, OfferStatus.PASSED.value
                ),
                self._offer_message(
                    passed, MessageKind.OFFER_NOTICE, passed.connector_id, OfferStatus.PASSED.value
                ),
            ]
            session.add_all(messages)
            await session.flush()
            return OfferOutcome(passed, [m.id for m in messages])

    def _offer_message(
        self, offer: IntroOffer, kind: MessageKind, recipient_id: str, key: str
    ) -> OutboundMessage:
        now = self._clock.now()
        return OutboundMessage(
            team_id=offer.team_id,
            request_id=None,
            dedupe_key=offer_dedupe_key(offer.id, kind, key),
            kind=kind,
            recipient_id=recipient_id,
            data={"offer_id": offer.id},
            due_at=now,
            created_at=now,
            attempts=0,
            status="pending",
        )

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
        blurb: str | None = None,
        ask_again_on: str | None = None,
        tz_name: str | None = None,
        lease: Lease | None = None,
    ) -> Outcome:
        """Apply one action, compare-and-set on the stored status.

        Raises UnknownRequest, NotYourRequest, or IllegalTransition (which carries the status
        the request is in now: a stale button, a double click, another replica first).
        With `lease`, the messages due now are written claimed by its owner, who sends them.
        """
        now = self._clock.now()
        values: dict[str, Any] = {}
        if action is Action.DECLINE:
            values["decline_reason"] = (reason or "").strip() or None
        if action is Action.REDIRECT:
            values["suggested_user_id"] = suggested_user_id
            values["suggestion_note"] = (note or "").strip() or None
        if action is Action.TARGET_AGREED:
            values["intro_made_at"] = now
        if action is Action.OWNER_APPROVE and blurb and blurb.strip():
            values["blurb"] = blurb.strip()  # the owner edited the note
        if action is Action.OWNER_DECLINE:
            values["decline_reason"] = (reason or "").strip() or None
        if action is Action.FOLLOW_UP:
            values["followed_up_at"] = now
        if action in REPORTED:
            stage = REPORTED[action]
            values["outcome"] = stage.value
            values["outcome_at"] = now
            if stage in STAGE_DATE:
                values[STAGE_DATE[stage]] = now
        refusal: InvalidSuggestion | None = None
        if action is Action.TARGET_NOT_NOW:
            try:
                values["ask_again_on"] = self.valid_ask_again_on(ask_again_on, tz_name)
            except InvalidSuggestion as error:
                refusal = error  # raised once the press is known to be theirs, in time
        at_once = refusal is None and self._in_one_statement(action)
        if at_once:
            done = await self._act_at_once(team_id, request_id, actor_id, action, values, lease)
            if done is not None:
                return done
        async with self._sessions.begin() as session:
            moved = None
            if refusal is None and not at_once:
                moved = await self._move(session, team_id, request_id, actor_id, action, values)
            if moved is None:
                # Not this party's, or not from this status: the plain load tells which refusal,
                # and an edge the single statement cannot express still gets its compare-and-set.
                request = await self._load(session, team_id, request_id)
                self._permitted(request, actor_id, action)
                if refusal is not None:
                    raise refusal
                self._check_suggestion(request, action, suggested_user_id)
                messages = await self._transition(session, request, actor_id, action, values, lease)
            else:
                request, current = moved
                # Raising rolls the change back, as if it had never been made.
                self._check_suggestion(request, action, suggested_user_id)
                messages = await self._record(session, request, actor_id, action, current, lease)
            if action is Action.REPORT_NO_RESPONSE:
                # No answer from the person is a dead end too: the first time for this target
                # the requester is offered a second voice; after that, the next paths.
                second_voice = await self._offer_secondary(session, request, actor_id)
                messages += second_voice or await self._dead_end_notice(session, request)
            return Outcome(request, _due_now(messages))

    async def report_outcome(
        self, team_id: str, request_id: int, actor_id: str, outcome: str
    ) -> Outcome:
        """The requester reports an outcome stage (a button's value): forward steps only."""
        if outcome not in set(OutcomeKind):
            raise InvalidSuggestion(f"unknown outcome {outcome!r}")
        return await self.act(team_id, request_id, actor_id, REPORT_ACTION[OutcomeKind(outcome)])

    async def _offer_secondary(
        self, session: AsyncSession, request: IntroRequest, actor_id: str
    ) -> list[OutboundMessage]:
        """The target never answered: offer the requester a second voice (another teammate who
        knows them, or the connector's nudge), once per target however many requests."""
        offered = await session.scalar(
            select(RequestEvent.id)
            .join(IntroRequest, IntroRequest.id == RequestEvent.request_id)
            .where(
                RequestEvent.team_id == request.team_id,
                RequestEvent.action == SECONDARY_OFFERED,
                IntroRequest.team_id == request.team_id,
                IntroRequest.target_surname_key == request.target_surname_key,
                func.lower(IntroRequest.target_name) == request.target_name.lower(),
                func.lower(IntroRequest.target_company) == request.target_company.lower(),
            )
            .limit(1)
        )
        if offered is not None:
            return []
        session.add(self._event(request, actor_id, SECONDARY_OFFERED, request.status))
        offer = self._message(
            request,
            MessageKind.NOTICE,
            request.requester_id,
            SECONDARY_OFFERED,
            {"event": SECONDARY_OFFERED},
        )
        session.add(offer)
        await session.flush()
        return [offer]

    async def _dead_end_notice(
        self, session: AsyncSession, request: IntroRequest
    ) -> list[OutboundMessage]:
        notice = self._message(
            request,
            MessageKind.NOTICE,
            request.requester_id,
            f"dead_end:{request.status}",
            {"event": "no_response"},
        )
        session.add(notice)
        await session.flush()
        return [notice]

    async def send_bump(self, team_id: str, request_id: int, actor_id: str) -> Outcome:
        """The requester asks the connector to nudge a target who went quiet: the connector gets
        a short bump message to forward, once per request."""
        async with self._sessions.begin() as session:
            request = await self._load(session, team_id, request_id)
            if actor_id != request.requester_id:
                raise NotYourRequest(Role.REQUESTER, request.requester_id)
            if request.status != Status.NO_RESPONSE:
                raise IllegalTransition(Status(request.status), Action.REPORT_NO_RESPONSE)
            bump = self._message(
                request, MessageKind.NOTICE, request.connector_id, BUMP_SENT, {"event": BUMP_SENT}
            )
            already = await session.scalar(
                select(OutboundMessage.id).where(
                    OutboundMessage.team_id == team_id,
                    OutboundMessage.dedupe_key == bump.dedupe_key,
                )
            )
            if already is not None:
                return Outcome(request, [])
            session.add(self._event(request, actor_id, BUMP_SENT, request.status))
            session.add(bump)
            await session.flush()
            return Outcome(request, [bump])

    async def earlier_request(
        self, team_id: str, request_id: int, requester_id: str, at: Status | None = None
    ) -> IntroRequest:
        """The requester's earlier request, for a new ask that follows it (the teammate a
        connector suggested, "Ask them", "Pick someone else"); see `_followed`."""
        async with reading(self._sessions) as session:
            return await self._followed(session, team_id, request_id, requester_id, at)

    @staticmethod
    async def _followed(
        session: AsyncSession,
        team_id: str,
        request_id: int,
        requester_id: str,
        at: Status | None = None,
    ) -> IntroRequest:
        """The requester's own earlier request, where asking someone else or going in cold
        is offered: at `at`, or else at any dead end. Raises UnknownRequest, NotYourRequest,
        or IllegalTransition with the status it is in now."""
        request = await session.scalar(
            select(IntroRequest).where(
                IntroRequest.id == request_id, IntroRequest.team_id == team_id
            )
        )
        if request is None:
            raise UnknownRequest(request_id)
        if request.requester_id != requester_id:
            raise NotYourRequest(Role.REQUESTER, request.requester_id)
        if not (request.status == at if at is not None else at_dead_end(request.status)):
            raise IllegalTransition(Status(request.status), Action.REROUTE)
        return request

    def valid_ask_again_on(self, text: str | None, tz_name: str | None = None) -> date:
        """The day the connector will ask the target again: a date after today where they are
        (`tz_name`; UTC when unknown)."""
        try:
            day = date.fromisoformat(text or "")
        except ValueError:
            raise InvalidSuggestion("pick the day to ask them again") from None
        if day <= self._clock.now().astimezone(zone(tz_name)).date():
            raise InvalidSuggestion("pick a day after today")
        return day

    async def system_act(self, team_id: str, request_id: int, action: Action) -> Outcome:
        """introbot's own move when a reminder falls due (the ask went quiet, the day to ask
        again came): compare-and-set, so of several replicas only one makes it."""
        assert ACTOR[action] is Role.SYSTEM, action
        async with self._sessions.begin() as session:
            request = await self._load(session, team_id, request_id)
            messages = await self._transition(session, request, SYSTEM_ACTOR, action, {})
            return Outcome(request, _due_now(messages))

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
        edges = _EDGES.get(action)
        party = _PARTY_COLUMN.get(ACTOR[action])
        if edges is None or party is None:
            return None
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
        return request, _SOURCE_OF[(action, Status(request.status))]

    def _in_one_statement(self, action: Action) -> bool:
        """Whether the change can be made in one statement: on PostgreSQL, for an action taken
        by a named party whose edges lead to different statuses, and checked or followed by
        nothing else in Python (a suggestion's checks, the second voice after no response)."""
        return (
            self._postgres
            and action in _EDGES
            and ACTOR[action] in _PARTY_COLUMN
            and action not in (Action.REDIRECT, Action.REPORT_NO_RESPONSE)
        )

    async def _act_at_once(
        self,
        team_id: str,
        request_id: int,
        actor_id: str,
        action: Action,
        values: dict[str, Any],
        lease: Lease | None,
    ) -> Outcome | None:
        """The whole change in one statement that commits on its own (one round trip): the
        compare-and-set, which is also the party check; its event; the reminders it makes moot
        cancelled; every message it promises written, those due now leased to `lease`; and
        the request as changed, with its cards, returned. None when no row moved, for the
        caller to find out why.

        What the change promises is planned here in Python, once for each status it can lead
        to, with stand-ins for what only the row knows (who the parties are, the event's id);
        the statement fills them in, and adds a refresh for each card the request has."""
        now = self._clock.now()
        edges = _EDGES[action]
        plan: list[tuple[Status, OutboundMessage]] = []
        for target in dict.fromkeys(edges.values()):
            stand_in = IntroRequest(
                id=request_id,
                team_id=team_id,
                status=target,
                requester_id=_REQUESTER,
                connector_id=_CONNECTOR,
                account_owner_id=_OWNER,
                ask_again_on=values.get("ask_again_on"),
            )
            promised = self._promised(stand_in, action, _EVENT_ID, {})
            plan += [(target, m) for m in _leased(promised, lease)]
        params: dict[str, Any] = {
            "request_id": request_id,
            "team_id": team_id,
            "actor_id": actor_id,
            "action": action.value,
            "now": now,
            "lease_owner": lease.owner if lease else None,
            "lease_until": lease.until if lease else None,
            "p_target": [str(target) for target, _ in plan],
            **_planned([m for _, m in plan]),
            **{f"v_{name}": value for name, value in values.items()},
        }
        async with autocommit(self._sessions) as connection:
            row = (
                (await connection.execute(_change_statement(action, tuple(values)), params))
                .mappings()
                .first()
            )
        if row is None:
            return None
        request = _request_from(row)
        due_now = _written_due_now(row, request, lease)
        cards = {
            (request_id, kind): OutboundMessage(
                id=card_id,
                team_id=team_id,
                request_id=request_id,
                kind=kind,
                recipient_id=recipient,
                status=status,
                slack_channel_id=channel,
                slack_ts=ts,
                data=data,
            )
            for card_id, kind, recipient, status, channel, ts, data in row["cards"] or []
        }
        return Outcome(request, due_now, cards)

    @staticmethod
    def _check_suggestion(
        request: IntroRequest, action: Action, suggested_user_id: str | None
    ) -> None:
        if action is not Action.REDIRECT:
            return
        if not suggested_user_id:
            raise InvalidSuggestion("pick a teammate to suggest")
        if suggested_user_id in (request.requester_id, request.connector_id):
            raise InvalidSuggestion("suggest someone other than the two of you")

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
        current, new = self._permitted(request, actor_id, action)
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
        messages = _leased(self._promised(request, action, event.id, cards), lease)
        session.add_all(messages)
        await session.flush()
        return messages

    def _promised(
        self,
        request: IntroRequest,
        action: Action,
        event_id: int | str,
        cards: dict[MessageKind, str],
    ) -> list[OutboundMessage]:
        """Every message a transition promises: card refreshes, a notice, new reminders."""
        now = self._clock.now()
        messages = [
            self._message(
                request,
                MessageKind.CARD_REFRESH,
                recipient,
                f"refresh:{card}:{event_id}",
                {"card": card},
            )
            for card, recipient in cards.items()
        ]
        if action is Action.OWNER_APPROVE:
            messages.append(
                self._message(request, MessageKind.CONNECTOR_CARD, request.connector_id, "card")
            )
        # Who hears about it: the requester of the connector's and owner's answers, the
        # connector of each outcome stage (the thank-you that makes connectors introduce
        # again). "No response" is no news to thank anyone for: the requester decides whether
        # to ask the connector for a nudge.
        notice: dict[str, Any] = {"event": action.value}
        if ACTOR[action] in (Role.CONNECTOR, Role.OWNER) or action is Action.ASK_AGAIN:
            notice_to: str | None = request.requester_id
        elif action in REPORTED and action is not Action.REPORT_NO_RESPONSE:
            notice_to = request.connector_id
            # The stage itself: by the time the thank-you is read the request may be further.
            notice = {"event": "outcome", "outcome": REPORTED[action].value}
        else:
            notice_to = None
        if notice_to:
            messages.append(
                self._message(request, MessageKind.NOTICE, notice_to, f"notice:{event_id}", notice)
            )
        messages += self._reminders_for(request, now, round_key=str(event_id))
        return messages

    async def qualify(self, team_id: str, request_id: int, actor_id: str, answer: str) -> Outcome:
        """The connector's answer to "would they take your call?", while the ask waits on them;
        the card is refreshed (a "not really" suggests declining or someone else)."""
        if answer not in QUALIFY_ANSWERS:
            raise InvalidSuggestion(f"unknown answer {answer!r}")
        return await self._update_card(
            team_id,
            request_id,
            actor_id,
            Status.AWAITING_CONNECTOR,
            Action.ACCEPT,
            {"connector_closeness": answer},
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
            request = await self._load(session, team_id, request_id)
            if actor_id != request.connector_id:
                raise NotYourRequest(Role.CONNECTOR, request.connector_id)
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
                f"refresh:{MessageKind.CONNECTOR_CARD}:{uuid.uuid4().hex}",
                {"card": MessageKind.CONNECTOR_CARD.value},
            )
            session.add(refresh)
            await session.flush()
            return Outcome(request, [refresh])

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

    @staticmethod
    async def _previous(
        session: AsyncSession, team_id: str, request_id: int, requester_id: str
    ) -> IntroRequest | None:
        """The requester's own earlier request a new one follows; None for anyone else's."""
        previous = await session.scalar(
            select(IntroRequest).where(
                IntroRequest.id == request_id, IntroRequest.team_id == team_id
            )
        )
        return previous if previous is not None and previous.requester_id == requester_id else None

    async def _withdraw_stalled(
        self, session: AsyncSession, previous: IntroRequest
    ) -> list[OutboundMessage]:
        """Withdraw the request a new one replaces, if it is still waiting on its connector."""
        if previous.status != Status.AWAITING_CONNECTOR:
            return []
        return await self._transition(session, previous, previous.requester_id, Action.REROUTE, {})

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
            key = f"cold:{previous_request_id}" if previous_request_id else None
            stored = await self._cold_from(
                team_id, key or (draft.submission_key if draft else None)
            )
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
            request = IntroRequest(
                team_id=team_id,
                requester_id=requester.user_id,
                requester_name=requester.name or (previous.requester_name if previous else ""),
                connector_id="",  # no one introduces a cold approach
                target_name=source.target_name.strip(),
                target_surname_key=person_surname_key(source.target_name)[:150],
                target_company=source.target_company.strip(),
                reason=source.reason.strip(),
                blurb=source.blurb.strip(),
                previous_request_id=previous.id if previous else None,
                submission_key=(
                    f"cold:{previous.id}" if previous else (draft.submission_key if draft else None)
                ),
                requester_title=(requester.title or (previous.requester_title if previous else ""))[
                    :200
                ],
                requester_email=(requester.email or (previous.requester_email if previous else ""))[
                    :254
                ],
                status=Status.WENT_COLD,
                went_cold_at=now,
                created_at=now,
                updated_at=now,
            )
            if previous is not None:
                messages += await self._withdraw_stalled(session, previous)
            session.add(request)
            await session.flush()
            session.add(self._event(request, request.requester_id, "go_cold", None))
            messages.append(
                self._message(
                    request,
                    MessageKind.NOTICE,
                    request.requester_id,
                    "went_cold",
                    {"event": "went_cold"},
                )
            )
            session.add_all(messages)
            await session.flush()
            return Outcome(request, _due_now(messages))

    async def _cold_from(self, team_id: str, submission_key: str | None) -> IntroRequest | None:
        if submission_key is None:
            return None
        async with reading(self._sessions) as session:
            return await session.scalar(
                select(IntroRequest).where(
                    IntroRequest.team_id == team_id,
                    IntroRequest.submission_key == submission_key,
                )
            )

    def _reminders_for(
        self, request: IntroRequest, now: datetime, round_key: str = ""
    ) -> list[OutboundMessage]:
        """The reminders a request entering its current status should get, each due later.

        A status a request can enter more than once (checking with the target again after a
        "not now") names its reminders by `round_key`, the event that started the round."""
        cadence = self._cadence
        planned: list[tuple[str, str, datetime, list[Status]]] = []
        # What a reminder carries besides its name: the move its delivery makes, or that it
        # is the last "did they answer?".
        extra: dict[str, dict[str, Any]] = {}
        if request.status == Status.AWAITING_CONNECTOR:
            due = now
            for seq in range(1, cadence.nudges + 1):
                due = cadence.nudge_due(due)
                planned.append(
                    (f"nudge:{seq}", request.connector_id, due, [Status(request.status)])
                )
            due = cadence.nudge_due(due)
            planned.append(("stalled", request.requester_id, due, [Status(request.status)]))
        elif request.status == Status.CHECKING_WITH_TARGET:
            due = now
            for seq in range(1, cadence.target_checks + 1):
                due = cadence.target_check_due(due)
                name = f"target_check:{seq}:{round_key}"
                if seq == cadence.target_checks:
                    extra[name] = {"last": True}
                planned.append((name, request.connector_id, due, [Status.CHECKING_WITH_TARGET]))
            # Unanswered as long again: the ask has gone quiet. Delivering this reminder moves
            # the request on; it stays valid after the move so a lapsed send still tells them.
            name = f"target_quiet:{round_key}"
            extra[name] = {"moves": Action.GO_QUIET.value}
            planned.append(
                (
                    name,
                    request.requester_id,
                    cadence.target_check_due(due),
                    [Status.CHECKING_WITH_TARGET, Status.TARGET_QUIET],
                )
            )
        elif request.status == Status.ASK_LATER and request.ask_again_on is not None:
            name = f"ask_again:{round_key}"
            extra[name] = {"moves": Action.ASK_AGAIN.value}
            day_starts = datetime.combine(request.ask_again_on, time(0), UTC) - EARLIEST_OFFSET
            planned.append(
                (
                    name,
                    request.connector_id,
                    day_starts,
                    [Status.ASK_LATER, Status.CHECKING_WITH_TARGET],
                )
            )
        elif request.status == Status.INTRO_MADE:
            planned.append(
                (
                    "follow_up",
                    request.requester_id,
                    now + cadence.follow_up_after,
                    [Status.INTRO_MADE],
                )
            )
            planned.append(
                (
                    "outcome",
                    request.requester_id,
                    now + cadence.outcome_after,
                    [Status.INTRO_MADE, Status.FOLLOWED_UP],
                )
            )
        elif request.status in STAGE_REMINDERS:
            due = now
            for seq in range(1, cadence.outcome_asks_again + 1):
                due += cadence.outcome_again_after
                planned.append(
                    (
                        f"outcome_again:{request.status}:{seq}",
                        request.requester_id,
                        due,
                        [Status(request.status)],
                    )
                )
        return [
            self._message(
                request,
                MessageKind.REMINDER,
                recipient,
                name,
                {
                    "reminder": name.split(":")[0],
                    "expects": [str(s) for s in expects],
                    **extra.get(name, {}),
                },
                due_at=due,
            )
            for name, recipient, due, expects in planned
        ]

    async def _cards_and_moot(
        self, session: AsyncSession, request: IntroRequest
    ) -> tuple[dict[MessageKind, str], list[int]]:
        """The request's cards (kind -> recipient), to refresh; and its pending reminders that
        the state has moved on past (they expect other statuses). One SELECT for both."""
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
        moot: list[int] = []
        for message_id, kind, recipient, data in rows:
            if kind != MessageKind.REMINDER:
                cards[MessageKind(kind)] = recipient
            elif request.status not in (data or {}).get("expects", []):
                moot.append(message_id)
        return cards, moot

    async def _cancel(self, session: AsyncSession, moot: list[int]) -> None:
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

    async def report_undeliverable(self, message: OutboundMessage, error: str) -> list[int]:
        """Tell the requester, once per request, when the ask could not reach the connector."""
        if message.request_id is None:
            return []
        async with self._sessions.begin() as session:
            request = await session.get(IntroRequest, message.request_id)
            if request is None or message.recipient_id == request.requester_id:
                return []
            notice = self._message(
                request,
                MessageKind.NOTICE,
                request.requester_id,
                "undeliverable",
                {"event": "undeliverable", "error": error},
            )
            already = await session.scalar(
                select(OutboundMessage.id).where(
                    OutboundMessage.team_id == request.team_id,
                    OutboundMessage.dedupe_key == notice.dedupe_key,
                )
            )
            if already is not None:
                return []
            session.add(notice)
            await session.flush()
            return [notice.id]

    async def secondary_connectors(self, request: IntroRequest, limit: int = 3) -> list[str]:
        """Teammates who have introduced this target or someone at this company before."""
        same_target = func.lower(IntroRequest.target_name) == request.target_name.lower()
        condition = same_target
        if request.target_company:
            condition = same_target | (
                func.lower(IntroRequest.target_company) == request.target_company.lower()
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

    async def check(
        self, team_id: str, request_id: int, actor_id: str, action: Action
    ) -> IntroRequest:
        """Raise what act() would raise, changing nothing: before opening a modal for it."""
        async with reading(self._sessions) as session:
            request = await self._load(session, team_id, request_id)
            self._permitted(request, actor_id, action)
            return request

    async def check_requester(self, team_id: str, request_id: int, actor_id: str) -> IntroRequest:
        """The request, if `actor_id` asked for it; else what act() would raise."""
        async with reading(self._sessions) as session:
            request = await self._load(session, team_id, request_id)
        if actor_id != request.requester_id:
            raise NotYourRequest(Role.REQUESTER, request.requester_id)
        return request

    @staticmethod
    def _permitted(request: IntroRequest, actor_id: str, action: Action) -> tuple[Status, Status]:
        role = ACTOR[action]
        party = {
            Role.CONNECTOR: request.connector_id,
            Role.REQUESTER: request.requester_id,
            Role.OWNER: request.account_owner_id or "",
            Role.SYSTEM: SYSTEM_ACTOR,
        }[role]
        if actor_id != party:
            raise NotYourRequest(role, party)
        current = Status(request.status)
        return current, next_status(current, action)

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

    async def get(self, team_id: str, request_id: int) -> IntroRequest | None:
        async with reading(self._sessions) as session:
            return await session.scalar(
                select(IntroRequest).where(
                    IntroRequest.id == request_id, IntroRequest.team_id == team_id
                )
            )

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
        *,
        due_at: datetime | None = None,
    ) -> OutboundMessage:
        now = self._clock.now()
        return OutboundMessage(
            team_id=request.team_id,
            request_id=request.id,
            dedupe_key=f"request:{request.id}:{kind.value}:{key}",
            kind=kind,
            recipient_id=recipient_id,
            data=data or {},
            due_at=due_at or now,
            created_at=now,
            attempts=0,
            status="pending",
        )


# Stand-ins in a change planned before its statement runs, filled in by the statement.
_REQUESTER, _CONNECTOR, _OWNER, _EVENT_ID = "<requester>", "<connector>", "<owner>", "<event>"
_REQUEST_COLUMNS = tuple(column.key for column in IntroRequest.__table__.c)


def _request_from(row: Any) -> IntroRequest:
    """The request a statement returned, its timestamps in UTC as the ORM would read them."""
    return IntroRequest(
        **{
            name: row[name].astimezone(UTC) if isinstance(row[name], datetime) else row[name]
            for name in _REQUEST_COLUMNS
        }
    )


# New messages planned in Python, handed to a one-statement write as arrays (one element per
# message), each with its type in SQL; `key` is the dedupe key without its request prefix.
_PLANNED = (
    ("kind", "text", lambda m: str(m.kind)),
    ("recipient", "text", lambda m: m.recipient_id),
    ("key", "text", lambda m: m.dedupe_key.split(":", 3)[3]),
    ("data", "text", lambda m: json.dumps(m.data)),
    ("due_at", "timestamptz", lambda m: m.due_at),
    ("status", "text", lambda m: str(m.status)),
    ("attempts", "integer", lambda m: m.attempts),
    ("lease_owner", "text", lambda m: m.lease_owner),
    ("lease_until", "timestamptz", lambda m: m.lease_expires_at),
)
_PLANNED_ARRAYS = ", ".join(f"CAST(:p_{name} AS {sql}[])" for name, sql, _ in _PLANNED)
_PLANNED_COLUMNS = ", ".join(name for name, _, _ in _PLANNED)


# What a one-statement write returns of the messages it wrote, as one JSON array.
_WRITTEN_COLUMNS = "id, kind, recipient_id, dedupe_key, data, status, created_at"
_WRITTEN_JSON = f"(SELECT json_agg(json_build_array({_WRITTEN_COLUMNS}) ORDER BY id) FROM written)"


def _written_due_now(row: Any, request: IntroRequest, lease: Lease | None) -> list[OutboundMessage]:
    """The messages due now among those a one-statement write returned, as written."""
    due_now = []
    for message_id, kind, recipient, key, data, status, created in row["written"] or []:
        if kind == MessageKind.REMINDER:
            continue
        at = datetime.fromisoformat(created).astimezone(UTC)
        leased = lease is not None and status == DeliveryStatus.SENDING
        due_now.append(
            OutboundMessage(
                id=message_id,
                team_id=request.team_id,
                request_id=request.id,
                dedupe_key=key,
                kind=kind,
                recipient_id=recipient,
                data=data,
                status=status,
                due_at=at,
                created_at=at,
                attempts=1 if leased else 0,
                lease_owner=lease.owner if leased and lease else None,
                lease_expires_at=lease.until if leased and lease else None,
            )
        )
    return due_now


def _planned(messages: list[OutboundMessage]) -> dict[str, list[Any]]:
    return {f"p_{name}": [value(m) for m in messages] for name, _, value in _PLANNED}


@functools.cache
def _change_statement(action: Action, value_names: tuple[str, ...]) -> TextClause:
    """The one statement that makes `action`'s change (see IntroWorkflow._act_at_once), built
    once per action and set of changed columns. Its words come from the code's own enums
    and column names, never from input."""
    edges = _EDGES[action]
    party = _PARTY_COLUMN[ACTOR[action]]
    sources = ", ".join(f"'{source}'" for source in edges)
    to_status = "CASE status " + " ".join(f"WHEN '{a}' THEN '{b}'" for a, b in edges.items())
    from_status = "CASE moved.status " + " ".join(
        f"WHEN '{b}' THEN '{a}'" for a, b in edges.items()
    )
    sets = "".join(f", {name} = :v_{name}" for name in value_names)
    cards = ", ".join(f"'{kind}'" for kind in CARD_KINDS)
    statement = text(
        f"""
        WITH moved AS (
            UPDATE intro_requests SET status = {to_status} END, updated_at = :now{sets}
            WHERE id = :request_id AND team_id = :team_id AND status IN ({sources})
                AND {party} = :actor_id
            RETURNING *, nextval(pg_get_serial_sequence('request_events', 'id')) AS event_id
        ), event AS (
            INSERT INTO request_events (id, team_id, request_id, actor_id, action, from_status,
                to_status, at)
            SELECT event_id, team_id, id, :actor_id, :action, {from_status} END, status, :now
            FROM moved
        ), moot AS (
            UPDATE outbound_messages m SET status = 'cancelled' FROM moved
            WHERE m.request_id = moved.id AND m.kind = 'reminder' AND m.status = 'pending'
                AND NOT EXISTS (
                    SELECT 1 FROM json_array_elements_text(m.data -> 'expects') AS e(status)
                    WHERE e.status = moved.status
                )
        ), cards AS (
            SELECT m.id, m.kind, m.recipient_id, m.status, m.slack_channel_id, m.slack_ts,
                m.data
            FROM outbound_messages m JOIN moved ON m.request_id = moved.id
            WHERE m.kind IN ({cards})
        ), planned AS (
            -- A refresh is due now: leased like the planned messages due now.
            SELECT 0 AS part, c.id AS seq, 'card_refresh' AS kind, c.recipient_id,
                'refresh:' || c.kind || ':' || moved.event_id AS key,
                json_build_object('card', c.kind) AS data, CAST(:now AS timestamptz) AS due_at,
                CASE WHEN CAST(:lease_owner AS text) IS NULL THEN 'pending' ELSE 'sending' END
                    AS status,
                CASE WHEN CAST(:lease_owner AS text) IS NULL THEN 0 ELSE 1 END AS attempts,
                CAST(:lease_owner AS text) AS lease_owner,
                CAST(:lease_until AS timestamptz) AS lease_until
            FROM cards c CROSS JOIN moved
            UNION ALL
            SELECT 1, p.seq, p.kind,
                CASE p.recipient WHEN '{_REQUESTER}' THEN moved.requester_id
                    WHEN '{_CONNECTOR}' THEN moved.connector_id
                    WHEN '{_OWNER}' THEN moved.account_owner_id ELSE p.recipient END,
                replace(p.key, '{_EVENT_ID}', CAST(moved.event_id AS text)), p.data::json,
                p.due_at, p.status, p.attempts, p.lease_owner, p.lease_until
            FROM moved CROSS JOIN unnest(
                CAST(:p_target AS text[]), {_PLANNED_ARRAYS}
            ) WITH ORDINALITY AS p(target, {_PLANNED_COLUMNS}, seq)
            WHERE p.target = moved.status
        ), written AS (
            INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id,
                data, due_at, created_at, attempts, status, lease_owner, lease_expires_at)
            SELECT moved.team_id, moved.id, 'request:' || moved.id || ':' || p.kind || ':'
                    || p.key,
                p.kind, p.recipient_id, p.data, p.due_at, :now, p.attempts, p.status,
                p.lease_owner, p.lease_until
            FROM planned p CROSS JOIN moved
            ORDER BY p.part, p.seq
            RETURNING {_WRITTEN_COLUMNS}
        )
        SELECT moved.*, {_WRITTEN_JSON} AS written,
            (SELECT json_agg(json_build_array(c.id, c.kind, c.recipient_id, c.status,
                c.slack_channel_id, c.slack_ts, c.data) ORDER BY c.id) FROM cards c) AS cards
        FROM moved
        """
    )
    return statement.bindparams(
        bindparam("now", type_=UTCDateTime()), bindparam("lease_until", type_=UTCDateTime())
    )


@functools.cache
def _submit_statement(column_names: tuple[str, ...]) -> TextClause:
    """The one statement that stores a new request (see IntroWorkflow._store_at_once), built
    once per set of columns given."""
    table = IntroRequest.__table__
    statement = text(
        f"""
        WITH request AS (
            INSERT INTO intro_requests ({", ".join(column_names)})
            VALUES ({", ".join(f":c_{name}" for name in column_names)})
            RETURNING *
        ), event AS (
            INSERT INTO request_events (team_id, request_id, actor_id, action, from_status,
                to_status, at)
            SELECT team_id, id, requester_id, 'submit', NULL, status, :now FROM request
        ), written AS (
            INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id,
                data, due_at, created_at, attempts, status, lease_owner, lease_expires_at)
            SELECT r.team_id, r.id, 'request:' || r.id || ':' || p.kind || ':' || p.key, p.kind,
                p.recipient, p.data::json, p.due_at, :now, p.attempts, p.status, p.lease_owner,
                p.lease_until
            FROM request r CROSS JOIN unnest({_PLANNED_ARRAYS})
                WITH ORDINALITY AS p({_PLANNED_COLUMNS}, seq)
            ORDER BY p.seq
            RETURNING {_WRITTEN_COLUMNS}
        )
        SELECT request.*, {_WRITTEN_JSON} AS written
        FROM request
        """
    )
    return statement.bindparams(
        bindparam("now", type_=UTCDateTime()),
        *(bindparam(f"c_{name}", type_=table.c[name].type) for name in column_names),
    )


def tie_data(contact: Contact | None) -> dict[str, Any] | None:
    """A stale tie as a connector card carries it: what the card shows and its button names."""
    if contact is None:
        return None
    since = contact.since.isoformat() if contact.since else None
    return {"id": contact.id, "name": contact.name, "since": since}


def tie_from(data: dict[str, Any] | None) -> Contact | None:
    """The stale tie a card carries (`tie_data`), to show."""
    if data is None:
        return None
    since = date.fromisoformat(data["since"]) if data.get("since") else None
    return Contact(id=data["id"], name=data["name"], since=since)


def offer_dedupe_key(offer_id: int, kind: MessageKind, key: str) -> str:
    """An offer's message key: its card is found again by it, to refresh it."""
    return f"offer:{offer_id}:{kind.value}:{key}"


# Where an action can be taken from and what it leads to, for the actions whose edges lead to
# different statuses (so the status a change left is known from the one it reached).
_EDGES: dict[Action, dict[Status, Status]] = {}
for (_source, _action), _target in TRANSITIONS.items():
    _EDGES.setdefault(_action, {})[_source] = _target
_EDGES = {a: e for a, e in _EDGES.items() if len(set(e.values())) == len(e)}
_SOURCE_OF = {(a, t): s for a, e in _EDGES.items() for s, t in e.items()}
# The column naming who may take an action (the system's own moves stay on the plain path).
_PARTY_COLUMN = {
    Role.CONNECTOR: "connector_id",
    Role.REQUESTER: "requester_id",
    Role.OWNER: "account_owner_id",
}


def _columns(row: IntroRequest) -> dict[str, Any]:
    """A new request's set columns, for a Core INSERT of an object built the ORM way."""
    state = instance_state(row)
    return {
        column.key: getattr(row, column.key)
        for column in state.mapper.column_attrs
        if column.key in state.dict
    }


def _is_due_now(message: OutboundMessage) -> bool:
    """What delivery sends at once; reminders wait for their time and the sweep."""
    return message.kind != MessageKind.REMINDER


def _due_now(messages: list[OutboundMessage]) -> list[OutboundMessage]:
    return [m for m in messages if _is_due_now(m)]


def _leased(messages: list[OutboundMessage], lease: Lease | None) -> list[OutboundMessage]:
    """New messages, those due now claimed by `lease` (as a claim would: one attempt)."""
    if lease is not None:
        for message in messages:
            if _is_due_now(message):
                message.status = DeliveryStatus.SENDING
                message.lease_owner = lease.owner
                message.lease_expires_at = lease.until
                message.attempts = 1
    return messages
