"""The target's email given with "intro made": kept with the change on both write paths, and
let go of (only its keyed hash kept) a day later when no CRM push waits to use it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.privacy import email_fingerprint
from bot.intro.states import Action, Status
from bot.intro.target_emails import TargetEmails
from bot.intro.validation import RequestDraft, email_problem
from bot.intro.workflow import IntroWorkflow, InvalidSuggestion, one_statement
from storage.db import create_engine_for, make_sessionmaker
from storage.models import (
    CrmConnection,
    DeliveryStatus,
    IntroRequest,
    MessageKind,
    OutboundMessage,
)
from tests.conftest import TEST_DATABASE_URL

TEAM = "T1"
RIYA, CARLOS = "U1", "U2"
KEY = b"k" * 32
EMAIL = "jane.doe@acme.example"


def draft(target_name: str = "Jane Doe") -> RequestDraft:
    return RequestDraft(
        requester=Teammate(RIYA, "Riya Patel"),
        connector=Teammate(CARLOS, "Carlos Mendes"),
        target_name=target_name,
        target_company="Acme",
        reason="Expansion",
        blurb="Hi Jane, I'm Riya. Would you be open to a call?",
    )


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_for(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _checking(workflow: IntroWorkflow, target_name: str = "Jane Doe") -> int:
    request_id = (await workflow.submit(TEAM, draft(target_name), [])).request.id
    await workflow.act(TEAM, request_id, CARLOS, Action.ACCEPT)
    return request_id


async def _row(sessions: async_sessionmaker[AsyncSession], request_id: int) -> IntroRequest:
    async with sessions() as session:
        row = await session.get(IntroRequest, request_id)
    assert row is not None
    return row


def test_an_email_is_checked_as_the_app_checks_emails_elsewhere() -> None:
    assert email_problem("") is None
    assert email_problem(" jane@acme.com ") is None
    assert email_problem("jane at acme") == "That doesn't look like an email address."
    assert email_problem("jane@acme") == "That doesn't look like an email address."
    too_long = "j" * 250 + "@acme.com"
    assert email_problem(too_long) == "The email is 259 characters; keep it to 254."


def _paths() -> list[object]:
    on_postgres = (TEST_DATABASE_URL or "").startswith("postgresql")
    statement = pytest.mark.skipif(not on_postgres, reason="one statement: PostgreSQL only")
    return [
        pytest.param(False, id="orm path"),
        pytest.param(True, id="one statement", marks=statement),
    ]


@pytest.mark.parametrize("at_once", _paths())
async def test_the_email_is_kept_with_the_intro_made_change(
    sessions: async_sessionmaker[AsyncSession], at_once: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock()
    workflow = IntroWorkflow(sessions, clock, one_statement=at_once)
    request_id = await _checking(workflow)
    statements: list[Action] = []
    act_at_once = one_statement.act_at_once

    async def spied(*args: object, **kwargs: object) -> object:
        done = await act_at_once(*args, **kwargs)  # type: ignore[arg-type]
        if done is not None:
            statements.append(args[4])  # type: ignore[arg-type]
        return done

    monkeypatch.setattr(one_statement, "act_at_once", spied)
    outcome = await workflow.act(
        TEAM, request_id, CARLOS, Action.TARGET_AGREED, target_email=f"  {EMAIL.upper()} "
    )
    assert statements == ([Action.TARGET_AGREED] if at_once else [])
    assert outcome.request.status == Status.INTRO_MADE
    assert outcome.request.target_email == EMAIL
    row = await _row(sessions, request_id)
    assert (row.status, row.target_email, row.target_email_hash) == (
        Status.INTRO_MADE,
        EMAIL,
        None,
    )
    assert row.intro_made_at is not None


@pytest.mark.parametrize("at_once", _paths())
async def test_without_an_email_nothing_is_kept(
    sessions: async_sessionmaker[AsyncSession], at_once: bool
) -> None:
    workflow = IntroWorkflow(sessions, ManualClock(), one_statement=at_once)
    request_id = await _checking(workflow)
    await workflow.act(TEAM, request_id, CARLOS, Action.TARGET_AGREED)
    row = await _row(sessions, request_id)
    assert (row.status, row.target_email) == (Status.INTRO_MADE, None)


@pytest.mark.parametrize("at_once", _paths())
async def test_a_malformed_email_is_refused_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], at_once: bool
) -> None:
    workflow = IntroWorkflow(sessions, ManualClock(), one_statement=at_once)
    request_id = await _checking(workflow)
    with pytest.raises(InvalidSuggestion):
        await workflow.act(TEAM, request_id, CARLOS, Action.TARGET_AGREED, target_email="jane")
    row = await _row(sessions, request_id)
    assert (row.status, row.target_email) == (Status.CHECKING_WITH_TARGET, None)


async def _push_row(
    sessions: async_sessionmaker[AsyncSession], request_id: int, status: DeliveryStatus, now: object
) -> None:
    async with sessions.begin() as session:
        session.add(
            OutboundMessage(
                team_id=TEAM,
                request_id=request_id,
                kind=MessageKind.CRM_PUSH,
                recipient_id="",
                dedupe_key=f"request:{request_id}:crm_push:intro_made:{status}",
                data={"stage": "intro_made"},
                status=status,
                due_at=now,
                created_at=now,
            )
        )


async def test_the_sweep_hashes_a_lingering_email_and_leaves_a_pending_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock()
    workflow = IntroWorkflow(sessions, clock, one_statement=False)
    emails = TargetEmails(sessions, clock, KEY)
    lingering = await _checking(workflow, "Jane Doe")
    pending = await _checking(workflow, "Ann Lee")
    failed = await _checking(workflow, "Bo Chan")
    fresh = await _checking(workflow, "Cy Park")
    for request_id in (lingering, pending, failed):
        await workflow.act(TEAM, request_id, CARLOS, Action.TARGET_AGREED, target_email=EMAIL)
    # The push gave up on one; another is still waiting to run.
    await _push_row(sessions, pending, DeliveryStatus.PENDING, clock.now())
    await _push_row(sessions, failed, DeliveryStatus.FAILED, clock.now())
    clock.advance(timedelta(hours=20))
    await workflow.act(TEAM, fresh, CARLOS, Action.TARGET_AGREED, target_email=EMAIL)
    assert await emails.let_go() == 0  # nothing is a day old yet

    clock.advance(timedelta(hours=5))
    assert await emails.let_go() == 2
    fingerprint = email_fingerprint(KEY, EMAIL)
    for request_id in (lingering, failed):
        row = await _row(sessions, request_id)
        assert (row.target_email, row.target_email_hash) == (None, fingerprint)
        assert row.status == Status.INTRO_MADE
    for request_id in (pending, fresh):
        row = await _row(sessions, request_id)
        assert (row.target_email, row.target_email_hash) == (EMAIL, None)

    # Once the push has run, the pending one goes too.
    async with sessions.begin() as session:
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.request_id == pending)
            .values(status=DeliveryStatus.SENT)
        )
    clock.advance(timedelta(days=1))
    assert await emails.let_go() == 2
    async with sessions() as session:
        kept = (await session.scalars(select(IntroRequest.target_email))).all()
    assert set(kept) == {None}


async def test_without_a_key_a_lingering_email_is_cleared(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock()
    workflow = IntroWorkflow(sessions, clock, one_statement=False)
    request_id = await _checking(workflow)
    await workflow.act(TEAM, request_id, CARLOS, Action.TARGET_AGREED, target_email=EMAIL)
    clock.advance(timedelta(days=2))
    assert await TargetEmails(sessions, clock, None).let_go() == 1
    row = await _row(sessions, request_id)
    assert (row.target_email, row.target_email_hash) == (None, None)


async def test_the_sweep_looks_at_most_every_few_minutes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock()
    workflow = IntroWorkflow(sessions, clock, one_statement=False)
    emails = TargetEmails(sessions, clock, KEY, look_every=timedelta(minutes=10))
    assert await emails.let_go_when_due() == 0
    request_id = await _checking(workflow)
    await workflow.act(TEAM, request_id, CARLOS, Action.TARGET_AGREED, target_email=EMAIL)
    async with sessions.begin() as session:
        await session.execute(
            update(IntroRequest)
            .where(IntroRequest.id == request_id)
            .values(intro_made_at=clock.now() - timedelta(days=2))
        )
    assert await emails.let_go_when_due() == 0  # looked a moment ago
    clock.advance(timedelta(minutes=11))
    assert await emails.let_go_when_due() == 1


async def test_the_email_is_asked_for_only_with_a_crm(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock()
    emails = TargetEmails(sessions, clock, KEY)
    assert not await emails.wanted(TEAM)
    assert await TargetEmails(sessions, clock, KEY, crm_everywhere=True).wanted(TEAM)
    async with sessions.begin() as session:
        session.add(
            CrmConnection(
                team_id=TEAM,
                vendor="hubspot",
                credentials="sealed",
                connected_by=CARLOS,
                connected_at=clock.now(),
            )
        )
    assert await emails.wanted(TEAM)
    assert not await emails.wanted("T2")


# Where the plain email may be named: given (the modal, its listener, the workflow's change),
# pushed (the CRM's record and the push channel) and let go of. Nothing that renders for
# Slack, exports or POSTs reads it.
MAY_NAME_IT = {
    "bot/intro/crm.py",
    "bot/intro/target_emails.py",
    "bot/intro/workflow/plan.py",
    "bot/intro/workflow/requests.py",
    "bot/intro/workflow/results.py",
    "handlers/intro_made.py",
    "storage/models.py",
    "templates/intro_made_modal.json.j2",
    "bot/standin/demo.py",  # the demo's connector types one into the form, as a person would
}
MAY_NAME_IT_UNDER = ("bot/delivery/crm/", "storage/migrations/")


def test_nothing_but_the_crm_push_reads_the_email() -> None:
    root = Path(__file__).resolve().parents[3]
    named = re.compile(r"\btarget_email\b")
    readers = {
        str(path.relative_to(root))
        for folder in ("bot", "handlers", "templates", "storage")
        for path in (root / folder).rglob("*")
        if path.suffix in (".py", ".j2", ".json") and named.search(path.read_text("utf-8"))
    }
    unexpected = {path for path in readers - MAY_NAME_IT if not path.startswith(MAY_NAME_IT_UNDER)}
    assert unexpected == set()
