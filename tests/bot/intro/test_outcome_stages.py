"""Outcome stages against a real database: forward only, each an event with its time, the
connector thanked per step, the question asked again, and the secondary intro offer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.intro.cadence import Cadence
from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action, IllegalTransition, Status
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow, NotYourRequest, UnknownChoice
from storage.db import create_engine_for, make_sessionmaker
from storage.models import (
    DeliveryStatus,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    RequestEvent,
)

TEAM = "T1"
RIYA, CARLOS, SAM = "U1", "U2", "U3"
AGAIN = timedelta(days=30)


def draft(target: str = "Jane Doe", connector: str = CARLOS) -> RequestDraft:
    return RequestDraft(
        requester=Teammate(RIYA, "Riya Patel"),
        connector=Teammate(connector, "Carlos Mendes"),
        target_name=target,
        target_company="Acme",
        reason="Expansion",
        blurb="Hi Jane, I'm Riya. Would you be open to a call?",
    )


@pytest.fixture
async def flow(database_url: str) -> AsyncIterator[tuple[IntroWorkflow, ManualClock]]:
    clock = ManualClock()
    engine = create_engine_for(database_url)
    yield IntroWorkflow(make_sessionmaker(engine), clock, Cadence(outcome_again_after=AGAIN)), clock
    await engine.dispose()


async def introduced(workflow: IntroWorkflow, target: str = "Jane Doe") -> int:
    request_id = (await workflow.submit(TEAM, draft(target), [])).request.id
    await workflow.act(TEAM, request_id, CARLOS, Action.ACCEPT)
    await workflow.act(TEAM, request_id, CARLOS, Action.TARGET_AGREED)
    return request_id


async def rows(workflow: IntroWorkflow, request_id: int) -> list[OutboundMessage]:
    async with workflow._sessions() as session:
        found = await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.request_id == request_id)
            .order_by(OutboundMessage.id)
        )
        return list(found)


async def test_meeting_opportunity_won_each_stored_dated_and_thanked(
    flow: tuple[IntroWorkflow, ManualClock],
) -> None:
    workflow, clock = flow
    request_id = await introduced(workflow)
    stamps = []
    for outcome, status in [
        ("meeting_held", Status.MEETING_HELD),
        ("opportunity", Status.OPPORTUNITY),
        ("closed_won", Status.CLOSED),
    ]:
        clock.advance(timedelta(days=3))
        stamps.append(clock.now())
        done = await workflow.report_outcome(TEAM, request_id, RIYA, outcome)
        assert (done.request.status, done.request.outcome) == (status, outcome)
        assert done.request.outcome_at == clock.now()
    request = done.request
    assert (request.meeting_at, request.opportunity_at, request.won_at) == tuple(stamps)
    assert request.lost_at is None
    async with workflow._sessions() as session:
        events = list(
            await session.execute(
                select(RequestEvent.action, RequestEvent.to_status, RequestEvent.at)
                .where(RequestEvent.request_id == request_id)
                .order_by(RequestEvent.id)
            )
        )
    assert [tuple(e) for e in events[-3:]] == [
        ("report_meeting_held", "meeting_held", stamps[0]),
        ("report_opportunity", "opportunity", stamps[1]),
        ("report_closed_won", "closed", stamps[2]),
    ]
    thanks = [
        m.data["outcome"]
        for m in await rows(workflow, request_id)
        if m.kind == MessageKind.NOTICE and m.recipient_id == CARLOS
    ]
    assert thanks == ["meeting_held", "opportunity", "closed_won"]
    # Won is the end: no second celebration, and nothing goes back.
    for outcome in ("closed_won", "meeting_held", "closed_lost"):
        with pytest.raises(IllegalTransition) as refused:
            await workflow.report_outcome(TEAM, request_id, RIYA, outcome)
        assert refused.value.status is Status.CLOSED


async def test_only_forward_steps_and_only_the_requester(
    flow: tuple[IntroWorkflow, ManualClock],
) -> None:
    workflow, _clock = flow
    request_id = await introduced(workflow)
    with pytest.raises(NotYourRequest):
        await workflow.report_outcome(TEAM, request_id, CARLOS, "meeting_held")
    with pytest.raises(UnknownChoice):
        await workflow.report_outcome(TEAM, request_id, RIYA, "signed")
    await workflow.report_outcome(TEAM, request_id, RIYA, "opportunity")
    with pytest.raises(IllegalTransition):
        await workflow.report_outcome(TEAM, request_id, RIYA, "meeting_held")
    with pytest.raises(IllegalTransition):
        await workflow.report_outcome(TEAM, request_id, RIYA, "no_response")
    lost = await workflow.report_outcome(TEAM, request_id, RIYA, "closed_lost")
    assert lost.request.status == Status.CLOSED and lost.request.lost_at is not None


async def test_the_question_is_asked_again_twice_after_a_stage_and_cancelled_when_it_moves(
    flow: tuple[IntroWorkflow, ManualClock],
) -> None:
    workflow, clock = flow
    request_id = await introduced(workflow)
    met = clock.now()
    await workflow.report_outcome(TEAM, request_id, RIYA, "meeting_held")
    again = [
        m
        for m in await rows(workflow, request_id)
        if m.kind == MessageKind.REMINDER and m.data["reminder"] == "outcome_again"
    ]
    assert [(m.recipient_id, m.due_at, m.data["expects"]) for m in again] == [
        (RIYA, met + AGAIN, ["meeting_held"]),
        (RIYA, met + 2 * AGAIN, ["meeting_held"]),
    ]
    # The first intro's outcome question is moot now.
    first = [m for m in await rows(workflow, request_id) if m.data.get("reminder") == "outcome"]
    assert [m.status for m in first] == [DeliveryStatus.CANCELLED]
    clock.advance(timedelta(days=40))
    await workflow.report_outcome(TEAM, request_id, RIYA, "opportunity")
    after = {
        ":".join(m.dedupe_key.split(":")[-2:]): m.status
        for m in await rows(workflow, request_id)
        if m.data.get("reminder") == "outcome_again"
    }
    assert after == {
        "meeting_held:1": DeliveryStatus.CANCELLED,
        "meeting_held:2": DeliveryStatus.CANCELLED,
        "opportunity:1": DeliveryStatus.PENDING,
        "opportunity:2": DeliveryStatus.PENDING,
    }
    await workflow.report_outcome(TEAM, request_id, RIYA, "closed_won")
    assert not [
        m
        for m in await rows(workflow, request_id)
        if m.kind == MessageKind.REMINDER and m.status == DeliveryStatus.PENDING
    ]


async def test_no_response_offers_a_second_voice_once_per_target_and_thanks_nobody(
    flow: tuple[IntroWorkflow, ManualClock],
) -> None:
    workflow, _clock = flow
    first = await introduced(workflow)
    done = await workflow.report_outcome(TEAM, first, RIYA, "no_response")
    assert done.request.status == Status.NO_RESPONSE
    sent = [m for m in await rows(workflow, first) if m.id in done.message_ids]
    notices = [(m.recipient_id, m.data["event"]) for m in sent if m.kind == MessageKind.NOTICE]
    assert notices == [(RIYA, "secondary_offer")]
    # A second path to the same person going quiet too: no second automatic offer, only the
    # next paths (ask someone else, go in cold) as after any dead end.
    second = await introduced(workflow)
    again = await workflow.report_outcome(TEAM, second, RIYA, "no_response")
    assert [
        (m.recipient_id, m.data["event"])
        for m in await rows(workflow, second)
        if m.id in again.message_ids and m.kind == MessageKind.NOTICE
    ] == [(RIYA, "no_response")]
    # Another target gets its own.
    other = await introduced(workflow, "Ann Poe")
    offered = await workflow.report_outcome(TEAM, other, RIYA, "no_response")
    assert any(
        m.data.get("event") == "secondary_offer"
        for m in await rows(workflow, other)
        if m.id in offered.message_ids
    )


async def test_the_bump_reaches_the_connector_once_and_a_late_answer_still_counts(
    flow: tuple[IntroWorkflow, ManualClock],
) -> None:
    workflow, _clock = flow
    request_id = await introduced(workflow)
    with pytest.raises(IllegalTransition):
        await workflow.send_bump(TEAM, request_id, RIYA)  # not before "no response"
    await workflow.report_outcome(TEAM, request_id, RIYA, "no_response")
    with pytest.raises(NotYourRequest):
        await workflow.send_bump(TEAM, request_id, SAM)
    bumped = await workflow.send_bump(TEAM, request_id, RIYA)
    [bump] = [m for m in await rows(workflow, request_id) if m.id in bumped.message_ids]
    assert (bump.kind, bump.recipient_id, bump.data["event"]) == (
        MessageKind.NOTICE,
        CARLOS,
        "bump",
    )
    assert (await workflow.send_bump(TEAM, request_id, RIYA)).message_ids == []
    met = await workflow.report_outcome(TEAM, request_id, RIYA, "meeting_held")
    assert met.request.status == Status.MEETING_HELD
    async with workflow._sessions() as session:
        actions = list(
            await session.scalars(
                select(RequestEvent.action)
                .where(RequestEvent.request_id == request_id)
                .order_by(RequestEvent.id)
            )
        )
        stored = await session.get(IntroRequest, request_id)
    assert actions[-4:] == ["report_no_response", "secondary_offer", "bump", "report_meeting_held"]
    assert stored is not None and stored.meeting_at is not None
