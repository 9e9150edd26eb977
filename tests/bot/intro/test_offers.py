"""A connector's offer of an intro, against a real database: stored with the rep's card,
taken once (even by two replicas at once), passed, and counted in the funnel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.intro.attribution import Attribution
from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.privacy import forget_me
from bot.intro.states import OfferStatus, Status
from bot.intro.validation import RequestDraft
from bot.intro.workflow import (
    IntroWorkflow,
    InvalidSuggestion,
    NotYourRequest,
    OfferAlreadyMade,
    OfferAnswered,
    UnknownOffer,
)
from storage.db import create_engine_for, make_sessionmaker
from storage.models import IntroOffer, IntroRequest, MessageKind, OutboundMessage

TEAM = "T1"
RIYA, CARLOS, SAM = "U1", "U2", "U3"


def taken(**overrides: object) -> RequestDraft:
    values: dict[str, object] = {
        "requester": Teammate(RIYA, "Riya Patel"),
        "connector": Teammate(CARLOS, "Carlos Mendes"),
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "Expansion",
        "blurb": "Hi Jane, I'm Riya. Would you be open to a call?",
    }
    values.update(overrides)
    return RequestDraft(**values)  # type: ignore[arg-type]


@pytest.fixture
async def workflows(database_url: str) -> AsyncIterator[tuple[IntroWorkflow, IntroWorkflow]]:
    """Two workflows on two engines: two replicas sharing one database."""
    clock = ManualClock()
    engines = [create_engine_for(database_url), create_engine_for(database_url)]
    yield tuple(IntroWorkflow(make_sessionmaker(e), clock) for e in engines)  # type: ignore[misc]
    for engine in engines:
        await engine.dispose()


async def _messages(workflow: IntroWorkflow) -> list[OutboundMessage]:
    async with workflow._sessions() as session:
        return list(await session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


async def test_an_offer_is_stored_with_the_reps_card(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    outcome = await workflow.offer(TEAM, CARLOS, RIYA, " Jane Doe ", "Acme", "She's hiring.")
    assert (outcome.offer.status, outcome.offer.target_name) == (OfferStatus.OFFERED, "Jane Doe")
    rows = await _messages(workflow)
    assert [(m.kind, m.recipient_id, m.request_id) for m in rows] == [
        (MessageKind.OFFER_CARD, RIYA, None)
    ]
    assert outcome.message_ids == [rows[0].id]
    with pytest.raises(OfferAlreadyMade):
        await workflow.offer(TEAM, CARLOS, RIYA, "jane doe")
    with pytest.raises(InvalidSuggestion):
        await workflow.offer(TEAM, CARLOS, CARLOS, "Jane Doe")
    # Someone else may offer the same person; so may Carlos, to someone else.
    await workflow.offer(TEAM, SAM, RIYA, "Jane Doe")
    await workflow.offer(TEAM, CARLOS, SAM, "Jane Doe")


async def test_taking_an_offer_starts_the_request_with_the_connector_checking(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    offer = (await workflow.offer(TEAM, CARLOS, RIYA, "Jane Doe", "Acme")).offer
    outcome = await workflow.submit(TEAM, taken(), ["tip"], offer_id=offer.id, owner_id=SAM)
    request = outcome.request
    # Offered by the connector, so nobody else approves first.
    assert (request.status, request.account_owner_id) == (Status.CHECKING_WITH_TARGET, None)
    rows = [m for m in await _messages(workflow) if m.kind != MessageKind.OFFER_CARD]
    sent_now = [m for m in rows if m.kind != MessageKind.REMINDER]
    assert sorted((m.kind, m.recipient_id) for m in sent_now) == sorted(
        [
            (MessageKind.CONNECTOR_CARD, CARLOS),
            (MessageKind.REQUESTER_CARD, RIYA),
            (MessageKind.OFFER_REFRESH, RIYA),
        ]
    )
    assert set(outcome.message_ids) == {m.id for m in sent_now}
    # As after an Accept: "did they answer?" twice, then the ask goes quiet.
    assert sorted(m.data["reminder"] for m in rows if m.kind == MessageKind.REMINDER) == [
        "target_check",
        "target_check",
        "target_quiet",
    ]
    with pytest.raises(OfferAnswered):
        await workflow.open_offer(TEAM, offer.id, RIYA)
    with pytest.raises(OfferAnswered):
        await workflow.submit(TEAM, taken(), [], offer_id=offer.id)
    with pytest.raises(OfferAnswered):
        await workflow.pass_offer(TEAM, offer.id, RIYA)


async def test_two_replicas_taking_one_offer_make_one_request(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    offer = (await workflows[0].offer(TEAM, CARLOS, RIYA, "Jane Doe")).offer
    results = await asyncio.gather(
        *(w.submit(TEAM, taken(), [], offer_id=offer.id) for w in workflows),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1 and len(refused) == 1
    assert isinstance(refused[0], OfferAnswered)
    async with workflows[0]._sessions() as session:
        requests = list(await session.scalars(select(IntroRequest)))
    assert len(requests) == 1


async def test_only_the_rep_takes_it_and_only_from_the_offering_connector(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    offer = (await workflow.offer(TEAM, CARLOS, RIYA, "Jane Doe")).offer
    with pytest.raises(NotYourRequest):
        await workflow.open_offer(TEAM, offer.id, SAM)
    with pytest.raises(UnknownOffer):
        await workflow.open_offer(TEAM, offer.id + 1, RIYA)
    with pytest.raises(UnknownOffer):
        await workflow.open_offer("T2", offer.id, RIYA)
    # The form's connector changed: not this offer, nothing stored.
    with pytest.raises(NotYourRequest):
        await workflow.submit(TEAM, taken(connector=Teammate(SAM, "Sam")), [], offer_id=offer.id)
    async with workflow._sessions() as session:
        assert list(await session.scalars(select(IntroRequest))) == []
    assert (await workflow.open_offer(TEAM, offer.id, RIYA)).status == OfferStatus.OFFERED


async def test_passing_tells_the_connector_and_refreshes_the_card(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    offer = (await workflow.offer(TEAM, CARLOS, RIYA, "Jane Doe")).offer
    with pytest.raises(NotYourRequest):
        await workflow.pass_offer(TEAM, offer.id, CARLOS)
    outcome = await workflow.pass_offer(TEAM, offer.id, RIYA)
    assert outcome.offer.status == OfferStatus.PASSED
    rows = [m for m in await _messages(workflow) if m.id in outcome.message_ids]
    assert sorted((m.kind, m.recipient_id) for m in rows) == [
        (MessageKind.OFFER_NOTICE, CARLOS),
        (MessageKind.OFFER_REFRESH, RIYA),
    ]
    with pytest.raises(OfferAnswered):
        await workflow.pass_offer(TEAM, offer.id, RIYA)
    with pytest.raises(OfferAnswered):
        await workflow.submit(TEAM, taken(), [], offer_id=offer.id)
    # Offered again after a pass: a new offer, not a duplicate.
    await workflow.offer(TEAM, CARLOS, RIYA, "Jane Doe")


async def test_the_funnel_counts_offers_made_and_taken(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    first = (await workflow.offer(TEAM, CARLOS, RIYA, "Jane Doe")).offer
    second = (await workflow.offer(TEAM, CARLOS, SAM, "Jane Doe")).offer
    await workflow.offer(TEAM, SAM, RIYA, "Ann Lee")
    await workflow.offer("T2", CARLOS, RIYA, "Jane Doe")  # another workspace's
    await workflow.submit(TEAM, taken(), [], offer_id=first.id)
    await workflow.pass_offer(TEAM, second.id, SAM)
    attribution = Attribution(workflow._sessions)
    report = await attribution.report(TEAM)
    assert (report.offered, report.offers_taken) == (3, 1)
    # The taken offer's request counts as requested and accepted, as any accepted ask.
    assert report.workspace.counts["requested"] == 1
    assert report.workspace.counts["accepted"] == 1
    mine = await attribution.report(TEAM, SAM)
    assert (mine.offered, mine.offers_taken) == (2, 0)


async def test_forget_me_erases_why_an_offer_was_made(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    mine = (await workflow.offer(TEAM, CARLOS, RIYA, "Jane Doe", "", "She's hiring.")).offer
    theirs = (await workflow.offer(TEAM, SAM, RIYA, "Ann Lee", "", "Old friends.")).offer
    await forget_me(workflow._sessions, TEAM, CARLOS)
    async with workflow._sessions() as session:
        reasons = {o.id: o.reason for o in await session.scalars(select(IntroOffer))}
    assert reasons == {mine.id: "", theirs.id: "Old friends."}
