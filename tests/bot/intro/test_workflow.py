"""The workflow against a real database: transitions, messages promised, races between replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Connection, event, func, select

from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action, IllegalTransition, Status
from bot.intro.validation import RequestDraft
from bot.intro.workflow import (
    IntroWorkflow,
    InvalidSuggestion,
    Lease,
    NotYourRequest,
    UnknownRequest,
    one_statement,
)
from storage import models
from storage.db import create_engine_for, make_sessionmaker
from storage.models import Contact, MessageKind, OutboundMessage, RequestEvent

TEAM = "T1"
RIYA, CARLOS, SAM = "U1", "U2", "U3"


def draft(**overrides: object) -> RequestDraft:
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


async def test_submit_writes_request_event_and_both_cards(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    outcome = await workflow.submit(TEAM, draft(), ["tip"])
    assert outcome.request.status == Status.AWAITING_CONNECTOR
    async with workflow._sessions() as session:
        rows = (await session.scalars(select(OutboundMessage))).all()
        events = await session.scalar(select(func.count()).select_from(RequestEvent))
    now_due = [r for r in rows if r.kind != MessageKind.REMINDER]
    assert sorted(r.kind for r in now_due) == [
        MessageKind.CONNECTOR_CARD,
        MessageKind.REQUESTER_CARD,
    ]
    assert {r.id for r in now_due} == set(outcome.message_ids)
    reminders = sorted((r for r in rows if r.kind == MessageKind.REMINDER), key=lambda r: r.due_at)
    assert [(r.data["reminder"], r.recipient_id) for r in reminders] == [
        ("nudge", CARLOS),
        ("nudge", CARLOS),
        ("stalled", RIYA),
    ]
    assert events == 1


async def test_the_connectors_card_carries_the_tie_its_review_found(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    """Reviewed: the tie (or that there is none) rides on the card. Not reviewed: nothing
    does, and the card looks the tie up as it goes out."""
    workflow = workflows[0]
    tie = Contact(id=7, name="Jane Doe", since=date(2019, 5, 1))
    cases = [
        (
            {"stale_tie": tie},
            {"id": 7, "name": "Jane Doe", "since": "2019-05-01", "connected": False},
        ),
        ({"stale_tie": None}, None),
        ({}, "absent"),
    ]
    for n, (reviewed, carried) in enumerate(cases):
        outcome = await workflow.submit(
            TEAM,
            draft(target_name=f"Jane Doe{n}"),
            [],
            **reviewed,  # type: ignore[arg-type]
        )
        (card,) = [m for m in outcome.due_now if m.kind == MessageKind.CONNECTOR_CARD]
        assert card.data.get("stale_tie", "absent") == carried


async def test_each_transition_promises_card_refreshes_and_a_notice(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    request = (await workflow.submit(TEAM, draft(), [])).request
    outcome = await workflow.act(TEAM, request.id, CARLOS, Action.ACCEPT)
    assert outcome.request.status == Status.CHECKING_WITH_TARGET
    async with workflow._sessions() as session:
        rows = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.id.in_(outcome.message_ids))
            )
        ).all()
    assert sorted((r.kind, r.recipient_id) for r in rows) == sorted(
        [
            (MessageKind.CARD_REFRESH, CARLOS),
            (MessageKind.CARD_REFRESH, RIYA),
            (MessageKind.NOTICE, RIYA),
        ]
    )
    cancel = await workflow.act(TEAM, request.id, RIYA, Action.CANCEL)
    assert cancel.request.status == Status.CANCELLED
    assert len(cancel.message_ids) == 2  # the cards change; the requester needs no notice


async def test_refusals(workflows: tuple[IntroWorkflow, IntroWorkflow]) -> None:
    workflow = workflows[0]
    request = (await workflow.submit(TEAM, draft(), [])).request
    with pytest.raises(NotYourRequest) as not_yours:
        await workflow.act(TEAM, request.id, RIYA, Action.ACCEPT)
    assert not_yours.value.party_id == CARLOS
    with pytest.raises(UnknownRequest):
        await workflow.act(TEAM, request.id + 100, CARLOS, Action.ACCEPT)
    with pytest.raises(UnknownRequest):  # another workspace's request is not there at all
        await workflow.act("T_OTHER", request.id, CARLOS, Action.ACCEPT)
    with pytest.raises(IllegalTransition):
        await workflow.act(TEAM, request.id, CARLOS, Action.TARGET_AGREED)
    with pytest.raises(InvalidSuggestion):
        await workflow.act(TEAM, request.id, CARLOS, Action.REDIRECT, suggested_user_id=RIYA)
    assert (await workflow.get(TEAM, request.id)).status == Status.AWAITING_CONNECTOR  # type: ignore[union-attr]


async def test_two_replicas_racing_on_one_request_apply_it_once(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    first, second = workflows
    request = (await first.submit(TEAM, draft(), [])).request
    results = await asyncio.gather(
        *(
            replica.act(TEAM, request.id, CARLOS, action)
            for replica, action in [
                (first, Action.ACCEPT),
                (second, Action.ACCEPT),
                (first, Action.DECLINE),
                (second, Action.REDIRECT),
            ]
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(e, IllegalTransition | InvalidSuggestion) for e in losers), losers
    async with first._sessions() as session:
        events = await session.scalar(select(func.count()).select_from(RequestEvent))
        notices = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.kind == MessageKind.NOTICE)
        )
    assert events == 2 and notices == 1


async def test_listings_are_scoped_by_team(workflows: tuple[IntroWorkflow, IntroWorkflow]) -> None:
    workflow = workflows[0]
    await workflow.submit(TEAM, draft(), [])
    await workflow.submit("T_OTHER", draft(), [])
    assert len(await workflow.requests_by(TEAM, RIYA)) == 1
    assert len(await workflow.waiting_on(TEAM, CARLOS)) == 1
    assert await workflow.waiting_on(TEAM, SAM) == []


@pytest.mark.parametrize("action", [None, Action.ACCEPT], ids=["submit", "accept"])
async def test_the_messages_due_now_come_back_as_written_and_leased(
    workflows: tuple[IntroWorkflow, IntroWorkflow], action: Action | None
) -> None:
    """What delivery sends without reading again is what the database holds, claimed."""
    workflow = workflows[0]
    lease = Lease("replica-1", workflow._clock.now() + timedelta(minutes=2))
    outcome = await workflow.submit(TEAM, draft(), [], lease=lease)
    if action is not None:
        outcome = await workflow.act(TEAM, outcome.request.id, CARLOS, action, lease=lease)
    assert outcome.due_now and {m.id for m in outcome.due_now} == set(outcome.message_ids)
    async with workflow._sessions() as session:
        stored = {
            m.id: m
            for m in await session.scalars(
                select(OutboundMessage).where(OutboundMessage.id.in_(outcome.message_ids))
            )
        }
    for message in outcome.due_now:
        row = stored[message.id]
        assert (message.dedupe_key, message.kind, message.recipient_id, message.data) == (
            row.dedupe_key,
            row.kind,
            row.recipient_id,
            row.data,
        )
        claimed = ("sending", "replica-1", 1)
        assert (row.status, row.lease_owner, row.attempts) == claimed
        assert (message.status, message.lease_owner, message.attempts) == claimed


@pytest.mark.parametrize("action", [None, Action.ACCEPT], ids=["submit", "accept"])
async def test_the_reminders_a_statement_wrote_stay_rows(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
    action: Action | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL the messages a change wrote come back as rows; only those sent at once
    become OutboundMessage objects, for delivery, and no message it plans or returns is made
    by the ORM's constructor (`storage.models.built`: a tenth of its CPU)."""
    workflow = workflows[0]
    if workflow._sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite writes with the ORM: its messages are objects already")
    lease = Lease("replica-1", workflow._clock.now() + timedelta(minutes=2))
    request_id = 0
    if action is not None:
        request_id = (await workflow.submit(TEAM, draft(), [], lease=lease)).request.id
    built: list[dict[str, object]] = []
    constructed: list[object] = []

    def recording(model: type[object], /, **columns: object) -> object:
        if model is OutboundMessage and columns.get("id") is not None:  # a returned row
            built.append(columns)
        return models.built(model, **columns)  # type: ignore[type-var]

    def init(target: object, _args: object, _kwargs: object) -> None:
        constructed.append(target)

    monkeypatch.setattr(one_statement, "built", recording)
    event.listen(OutboundMessage, "init", init)
    try:
        if action is None:
            outcome = await workflow.submit(TEAM, draft(target_name="Ann Lee"), [], lease=lease)
        else:
            outcome = await workflow.act(TEAM, request_id, CARLOS, action, lease=lease)
    finally:
        event.remove(OutboundMessage, "init", init)
    assert outcome.due_now
    assert all(m["kind"] != MessageKind.REMINDER for m in built), built
    written = [m for m in built if m["request_id"] == outcome.request.id]
    assert {m["id"] for m in written} >= set(outcome.message_ids)
    assert constructed == []


async def test_an_accept_is_one_statement_that_commits_on_its_own_on_postgresql(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    """The compare-and-set, its event, the cancelled reminders and the messages are one
    statement in autocommit: one round trip, its own commit (SQLite, in-process, writes them
    one by one in one transaction, so only the commit is counted)."""
    workflow = workflows[0]
    request_id = (await workflow.submit(TEAM, draft(), [])).request.id
    engine = workflow._sessions.kw["bind"].sync_engine
    statements: list[str] = []
    isolation: list[object] = []
    commits: list[object] = []

    def record(connection: Connection, _cur: object, statement: str, *_rest: object) -> None:
        statements.append(statement)
        isolation.append(connection.get_execution_options().get("isolation_level"))

    def commit(connection: object) -> None:
        commits.append(connection)

    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "commit", commit)
    try:
        outcome = await workflow.act(TEAM, request_id, CARLOS, Action.ACCEPT)
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "commit", commit)
    if engine.dialect.name == "postgresql":
        assert len(statements) == 1, statements
        assert isolation == ["AUTOCOMMIT"]
        assert commits == []  # nothing left to commit: the statement did
    else:
        assert len(commits) == 1
    assert outcome.request.status == Status.CHECKING_WITH_TARGET
    async with workflow._sessions() as session:
        rows = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.request_id == request_id)
            )
        ).all()
        accepted = await session.scalar(
            select(RequestEvent).where(RequestEvent.action == Action.ACCEPT.value)
        )
    assert accepted is not None and accepted.from_status == Status.AWAITING_CONNECTOR
    assert sorted(outcome.message_ids) == sorted(
        r.id for r in rows if r.kind in (MessageKind.CARD_REFRESH, MessageKind.NOTICE)
    )
    assert all(str(accepted.id) in r.dedupe_key for r in rows if r.id in outcome.message_ids)
    reminders = {r.data["reminder"]: r.status for r in rows if r.kind == MessageKind.REMINDER}
    assert reminders == {
        "nudge": "cancelled",
        "stalled": "cancelled",
        "target_check": "pending",
        "target_quiet": "pending",
    }


async def test_refusals_on_the_single_statement_path_stay_apart(
    workflows: tuple[IntroWorkflow, IntroWorkflow],
) -> None:
    workflow = workflows[0]
    request_id = (await workflow.submit(TEAM, draft(), [])).request.id
    with pytest.raises(UnknownRequest):
        await workflow.act(TEAM, request_id + 100, CARLOS, Action.ACCEPT)
    with pytest.raises(UnknownRequest):
        await workflow.act("T-other", request_id, CARLOS, Action.ACCEPT)
    with pytest.raises(NotYourRequest):
        await workflow.act(TEAM, request_id, SAM, Action.ACCEPT)
    with pytest.raises(InvalidSuggestion):
        await workflow.act(TEAM, request_id, CARLOS, Action.REDIRECT, suggested_user_id=RIYA)
    assert (await workflow.get(TEAM, request_id)).status == Status.AWAITING_CONNECTOR  # type: ignore[union-attr]
    await workflow.act(TEAM, request_id, CARLOS, Action.ACCEPT)
    with pytest.raises(IllegalTransition) as stale:
        await workflow.act(TEAM, request_id, CARLOS, Action.ACCEPT)
    assert stale.value.status == Status.CHECKING_WITH_TARGET
