"""Offers: a connector offers a teammate an intro (taken, it becomes a request already
accepted); and the second voices offered after a target never answered (another teammate who
knows them, or the connector's bump)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.intro.companies import company_keys_sql
from bot.intro.states import Action, IllegalTransition, OfferStatus, Role, Status
from bot.intro.workflow import plan
from bot.intro.workflow.errors import (
    InvalidSuggestion,
    NothingToThank,
    NotYourRequest,
    OfferAlreadyMade,
    OfferAnswered,
    UnknownOffer,
)
from bot.intro.workflow.orm_path import OrmPath
from bot.intro.workflow.results import OfferOutcome, Outcome
from storage.db import reading
from storage.models import (
    IntroOffer,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    RequestEvent,
)


class Offers(OrmPath):
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
            now = self._clock.now()
            offer = IntroOffer(
                team_id=team_id,
                connector_id=connector_id,
                rep_id=rep_id,
                target_name=target_name,
                company=company,
                reason=reason.strip(),
                status=OfferStatus.OFFERED,
                created_at=now,
            )
            session.add(offer)
            await session.flush()
            card = plan.offer_message(offer, MessageKind.OFFER_CARD, rep_id, "card", now=now)
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
            now, key = self._clock.now(), OfferStatus.PASSED.value
            messages = [
                plan.offer_message(passed, MessageKind.OFFER_REFRESH, rep_id, key, now=now),
                plan.offer_message(
                    passed, MessageKind.OFFER_NOTICE, passed.connector_id, key, now=now
                ),
            ]
            session.add_all(messages)
            await session.flush()
            return OfferOutcome(passed, [m.id for m in messages])

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
            taken = await self._take(session, team_id, offer_id, request)
            events = self._taken_events(request, now)
            session.add_all(events)
            messages = plan.taken_offer_messages(
                request, taken, advice, now=now, cadence=self._cadence
            )
            messages += await self._webhooks(session, request, events)
            session.add_all(messages)
            await session.flush()
            return Outcome(request, plan.due_now(messages))

    @staticmethod
    async def _take(
        session: AsyncSession, team_id: str, offer_id: int, request: IntroRequest
    ) -> IntroOffer:
        """Compare-and-set the offer taken by `request`; else raise why it cannot be."""
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
        if taken is not None:
            return taken
        offer = await session.scalar(
            select(IntroOffer).where(IntroOffer.id == offer_id, IntroOffer.team_id == team_id)
        )
        if offer is None or offer.rep_id != request.requester_id:
            raise UnknownOffer(offer_id)
        if offer.status == OfferStatus.OFFERED:  # the connector was changed on the form
            raise NotYourRequest(Role.CONNECTOR, offer.connector_id)
        raise OfferAnswered(offer)

    @staticmethod
    def _taken_events(request: IntroRequest, now: datetime) -> list[RequestEvent]:
        """A taken offer's request history: submitted by the rep, then accepted."""
        return [
            RequestEvent(
                team_id=request.team_id,
                request_id=request.id,
                actor_id=actor,
                action=action,
                from_status=before,
                to_status=after or request.status,
                at=now,
            )
            for actor, action, before, after in (
                (request.requester_id, "submit", None, Status.AWAITING_CONNECTOR),
                (request.connector_id, Action.ACCEPT.value, Status.AWAITING_CONNECTOR, None),
            )
        ]

    # --- second voices ----------------------------------------------------------------------

    async def _after_no_response(
        self, session: AsyncSession, request: IntroRequest, actor_id: str
    ) -> list[OutboundMessage]:
        """No answer from the person is a dead end too: the first time for this target the
        requester is offered a second voice; after that, the next paths."""
        second_voice = await self._offer_secondary(session, request, actor_id)
        return second_voice or await self._dead_end_notice(session, request)

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
                RequestEvent.action == plan.SECONDARY_OFFERED,
                IntroRequest.team_id == request.team_id,
                IntroRequest.target_surname_key == request.target_surname_key,
                func.lower(IntroRequest.target_name) == request.target_name.lower(),
                IntroRequest.target_company_key.in_(
                    company_keys_sql(request.team_id, request.target_company_key)
                ),
            )
            .limit(1)
        )
        if offered is not None:
            return []
        session.add(self._event(request, actor_id, plan.SECONDARY_OFFERED, request.status))
        offer = self._notice(request, request.requester_id, plan.SECONDARY_OFFERED)
        session.add(offer)
        await session.flush()
        return [offer]

    async def _dead_end_notice(
        self, session: AsyncSession, request: IntroRequest
    ) -> list[OutboundMessage]:
        notice = self._notice(
            request, request.requester_id, "no_response", key=f"dead_end:{request.status}"
        )
        session.add(notice)
        await session.flush()
        return [notice]

    async def send_bump(self, team_id: str, request_id: int, actor_id: str) -> Outcome:
        """The requester asks the connector to nudge a target who went quiet: the connector gets
        a short bump message to forward, once per request."""
        async with self._sessions.begin() as session:
            request = await self._load_as(session, team_id, request_id, Role.REQUESTER, actor_id)
            if request.status != Status.NO_RESPONSE or not request.intro_made_at:
                # A cold approach, or one with the connector's name, had no intro to nudge.
                raise IllegalTransition(Status(request.status), Action.REPORT_NO_RESPONSE)
            bump = self._notice(request, request.connector_id, plan.BUMP_SENT)
            if await self._written_before(session, bump):
                return Outcome(request, [])
            session.add(self._event(request, actor_id, plan.BUMP_SENT, request.status))
            session.add(bump)
            await session.flush()
            return Outcome(request, [bump])

    # --- thanks ----------------------------------------------------------------------------

    async def send_thanks(
        self, team_id: str, request_id: int, actor_id: str, words: str
    ) -> Outcome:
        """The requester thanks the connector in their own words, once for each status the
        request is in (after a no, after each outcome stage): the connector gets the words
        as the requester's, with what they are about."""
        words = " ".join(words.split())
        async with self._sessions.begin() as session:
            request = await self._load_as(session, team_id, request_id, Role.REQUESTER, actor_id)
            if not plan.thankable(request):
                raise NothingToThank
            thanks = self._notice(
                request,
                request.connector_id,
                plan.THANKS_SENT,
                key=f"{plan.THANKS_SENT}:{request.status}",
                words=words[: plan.THANKS_MAX],
                status=request.status,
            )
            if await self._written_before(session, thanks):
                return Outcome(request, [])
            session.add(self._event(request, actor_id, plan.THANKS_SENT, request.status))
            session.add(thanks)
            await session.flush()
            return Outcome(request, [thanks])
