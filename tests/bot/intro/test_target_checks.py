"""While the connector checks with the target: "did they answer?" reminders, the ask going
quiet, and "not now" with a day to ask again. The workflow against a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.intro.cadence import Cadence
from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action, IllegalTransition, Status
from bot.intro.validation import RequestDraft
from bot.intro.workflow import SYSTEM_ACTOR, IntroWorkflow, InvalidSuggestion, NotYourRequest
from storage.db import create_engine_for, make_sessionmaker
from storage.models import DeliveryStatus, MessageKind, OutboundMessage, RequestEvent

TEAM = "T1"
RIYA, CARLOS = "U1", "U2"
MONDAY = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def draft() -> RequestDraft:
    return RequestDraft(
        requester=Teammate(RIYA, "Riya Patel"),
        connector=Teammate(CARLOS, "Carlos Mendes"),
        target_name="Jane Doe",
        target_company="Acme",
        reason="Expansion",
        blurb="Hi Jane, I'm Riya. Would you be open to a call?",
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
async def workflows(
    database_url: str, clock: ManualClock
) -> AsyncIterator[tuple[IntroWorkflow, IntroWorkflow]]:
    """Two workflows on two engines: two replicas sharing one database."""
    engines = [create_engine_for(database_url), create_engine_for(database_url)]
    yield tuple(IntroWorkflow(make_sessionmaker(e), clock, Cadence()) for e in engines)  # type: ignore[misc]
    for engine in engines:
        await engine.dispose()


async def _reminders(workflow: IntroWorkflow, request_id: int) -> list[OutboundMessage]:
    async with workflow._sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.request_id == request_id,
                OutboundMessage.kind == MessageKind.REMINDER,
            )
            .order_by(OutboundMessage.due_at, OutboundMessage.id)
        )
        return list(rows)


async def _accepted(workflow: IntroWorkflow) -> int:
    request = (await workflow.submit(TEAM, draft(), [])).request
    await workflow.act(TEAM, request.id, CARLOS, Action.ACCEPT)
    return request.id


async def test_accepting_plans_two_checks_then_the_ask_going_quiet_in_working_days(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    request_id = await _accepted(workflow)
    pending = [r for r in await _reminders(workflow, request_id) if r.status == "pending"]
    assert [(r.data["reminder"], r.recipient_id) for r in pending] == [
        ("target_check", CARLOS),
        ("target_check", CARLOS),
        ("target_quiet", RIYA),
    ]
    # Monday + 3 working days = Thursday; + 3 = the next Tuesday; + 3 = Friday.
    assert [r.due_at.date() for r in pending] == [
        date(2026, 1, 8),
        date(2026, 1, 13),
        date(2026, 1, 16),
    ]
    assert [bool(r.data.get("last")) for r in pending] == [False, True, False]
    assert pending[2].data["moves"] == Action.GO_QUIET.value
    assert pending[2].data["expects"] == [Status.CHECKING_WITH_TARGET, Status.TARGET_QUIET]
    # The nudges to answer the ask are over: he answered.
    cancelled = [r.data["reminder"] for r in await _reminders(workflow, request_id)]
    assert cancelled.count("nudge") == 2


async def test_the_check_period_is_a_setting(database_url: str, clock: ManualClock) -> None:
    engine = create_engine_for(database_url)
    try:
        workflow = IntroWorkflow(
            make_sessionmaker(engine), clock, Cadence(target_check_after=timedelta(hours=5))
        )
        request_id = await _accepted(workflow)
        pending = [r for r in await _reminders(workflow, request_id) if r.status == "pending"]
        assert [r.due_at - MONDAY for r in pending] == [timedelta(hours=h) for h in (5, 10, 15)]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "action", [Action.TARGET_AGREED, Action.TARGET_DECLINED, Action.TARGET_NOT_NOW, Action.CANCEL]
)
async def test_an_answer_cancels_the_checks_and_the_quiet_notice(
    workflows: tuple[IntroWorkflow, IntroWorkflow], action: Action
) -> None:
    workflow = workflows[0]
    request_id = await _accepted(workflow)
    actor = RIYA if action is Action.CANCEL else CARLOS
    day = "2026-02-02" if action is Action.TARGET_NOT_NOW else None
    await workflow.act(TEAM, request_id, actor, action, ask_again_on=day)
    checks = [
        r
        for r in await _reminders(workflow, request_id)
        if r.data["reminder"] in ("target_check", "target_quiet")
    ]
    assert len(checks) == 3
    assert {r.status for r in checks} == {DeliveryStatus.CANCELLED}


async def test_going_quiet_is_a_system_move_made_once_across_replicas(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    first, second = workflows
    request_id = await _accepted(first)
    results = await asyncio.gather(
        first.system_act(TEAM, request_id, Action.GO_QUIET),
        second.system_act(TEAM, request_id, Action.GO_QUIET),
        return_exceptions=True,
    )
    moved = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, IllegalTransition)]
    assert len(moved) == 1 and len(refused) == 1
    assert refused[0].status == Status.TARGET_QUIET
    outcome = moved[0]
    assert outcome.request.status == Status.TARGET_QUIET
    async with first._sessions() as session:
        events = (
            await session.scalars(
                select(RequestEvent).where(RequestEvent.action == Action.GO_QUIET.value)
            )
        ).all()
        promised = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.id.in_(outcome.message_ids))
            )
        ).all()
    assert [(e.actor_id, e.from_status) for e in events] == [
        (SYSTEM_ACTOR, Status.CHECKING_WITH_TARGET)
    ]
    # Both cards say so; the requester hears it from the reminder that made the move.
    assert sorted(m.data.get("card") for m in promised) == ["connector_card", "requester_card"]
    quiet = [r for r in await _reminders(first, request_id) if r.data["reminder"] == "target_quiet"]
    assert [r.status for r in quiet] == [DeliveryStatus.PENDING]  # still to be sent
    checks = [
        r for r in await _reminders(first, request_id) if r.data["reminder"] == "target_check"
    ]
    assert {r.status for r in checks} == {DeliveryStatus.CANCELLED}


async def test_people_cannot_take_the_system_moves(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    request_id = await _accepted(workflow)
    for actor in (RIYA, CARLOS):
        with pytest.raises(NotYourRequest):
            await workflow.act(TEAM, request_id, actor, Action.GO_QUIET)


@pytest.mark.parametrize("day", [None, "", "soon", "2026-01-05", "2026-01-04"])
async def test_not_now_needs_a_day_after_today(
    workflows: tuple[IntroWorkflow, IntroWorkflow], day: str | None
) -> None:
    workflow = workflows[0]
    request_id = await _accepted(workflow)
    with pytest.raises(InvalidSuggestion):
        await workflow.act(TEAM, request_id, CARLOS, Action.TARGET_NOT_NOW, ask_again_on=day)
    request = await workflow.get(TEAM, request_id)
    assert request is not None and request.status == Status.CHECKING_WITH_TARGET


async def test_not_now_counts_today_where_the_connector_is(
    workflows: tuple[IntroWorkflow, IntroWorkflow], clock: ManualClock
) -> None:
    workflow = workflows[0]
    # Monday 15:00 UTC is already Tuesday on Kiritimati (UTC+14): Tuesday is today there.
    assert workflow.valid_ask_again_on("2026-01-06") == date(2026, 1, 6)
    with pytest.raises(InvalidSuggestion):
        workflow.valid_ask_again_on("2026-01-06", "Pacific/Kiritimati")
    # Tuesday 01:00 UTC is still Monday evening in Los Angeles: Tuesday is tomorrow there.
    clock.advance(timedelta(hours=10))
    with pytest.raises(InvalidSuggestion):
        workflow.valid_ask_again_on("2026-01-06")
    request_id = await _accepted(workflow)
    await workflow.act(
        TEAM,
        request_id,
        CARLOS,
        Action.TARGET_NOT_NOW,
        ask_again_on="2026-01-06",
        tz_name="America/Los_Angeles",
    )
    request = await workflow.get(TEAM, request_id)
    assert request is not None and request.status == Status.ASK_LATER
    assert request.ask_again_on == date(2026, 1, 6)


async def test_not_now_waits_for_its_day_then_checking_starts_over(
    workflows: tuple[IntroWorkflow, IntroWorkflow], clock: ManualClock
) -> None:
    workflow = workflows[0]
    request_id = await _accepted(workflow)
    outcome = await workflow.act(
        TEAM, request_id, CARLOS, Action.TARGET_NOT_NOW, ask_again_on="2026-02-02"
    )
    assert outcome.request.status == Status.ASK_LATER
    assert outcome.request.ask_again_on == date(2026, 2, 2)
    (ask_again,) = [
        r for r in await _reminders(workflow, request_id) if r.data["reminder"] == "ask_again"
    ]
    assert ask_again.recipient_id == CARLOS and ask_again.status == "pending"
    # Due from the moment 2 February begins anywhere (UTC+14); delivery waits for their day.
    assert ask_again.due_at == datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    assert ask_again.data["moves"] == Action.ASK_AGAIN.value

    clock.advance(timedelta(days=28))
    back = await workflow.system_act(TEAM, request_id, Action.ASK_AGAIN)
    assert back.request.status == Status.CHECKING_WITH_TARGET
    async with workflow._sessions() as session:
        notices = (
            await session.scalars(
                select(OutboundMessage).where(
                    OutboundMessage.id.in_(back.message_ids),
                    OutboundMessage.kind == MessageKind.NOTICE,
                )
            )
        ).all()
    assert [(n.recipient_id, n.data["event"]) for n in notices] == [(RIYA, "ask_again")]
    # A second round of checks, named apart from the first round's.
    pending = [r for r in await _reminders(workflow, request_id) if r.status == "pending"]
    assert [r.data["reminder"] for r in pending] == [
        "ask_again",  # being sent: it made the move, and is still valid after it
        "target_check",
        "target_check",
        "target_quiet",
    ]
    assert pending[1].due_at.date() == date(2026, 2, 5)  # Monday 2 Feb + 3 working days
    keys = [r.dedupe_key for r in await _reminders(workflow, request_id)]
    assert len(keys) == len(set(keys))


async def test_cancel_while_waiting_for_the_day_cancels_the_ask_again(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    request_id = await _accepted(workflow)
    await workflow.act(TEAM, request_id, CARLOS, Action.TARGET_NOT_NOW, ask_again_on="2026-02-02")
    outcome = await workflow.act(TEAM, request_id, RIYA, Action.CANCEL)
    assert outcome.request.status == Status.CANCELLED
    (ask_again,) = [
        r for r in await _reminders(workflow, request_id) if r.data["reminder"] == "ask_again"
    ]
    assert ask_again.status == DeliveryStatus.CANCELLED
    with pytest.raises(IllegalTransition):
        await workflow.system_act(TEAM, request_id, Action.ASK_AGAIN)
    async with workflow._sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(RequestEvent)
            .where(RequestEvent.action == Action.ASK_AGAIN.value)
        )
    assert count == 0


async def test_next_reminder_names_the_one_due_first(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    request_id = await _accepted(workflow)
    upcoming = await workflow.next_reminder(TEAM, request_id)
    assert upcoming is not None
    assert upcoming[1] == "target_check" and upcoming[0].date() == date(2026, 1, 8)
