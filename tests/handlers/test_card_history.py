"""The connector's first card says, in one line, their history with the requester over the
last year: the requester's asks, what came of them, and intros the requester made for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import event

from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow.queries import History
from bot.standin.stack import LocalStack
from tests.handlers.flow import CONNECTOR, OTHER, REQUESTER, card_text, press, request_intro
from tests.handlers.test_warm_paths import _old_tie

TEAM = "T0FAKE"
RIYA, CARLOS = Teammate(REQUESTER, "Riya Patel"), Teammate(CONNECTOR, "Carlos Mendes")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def _earlier(
    stack: LocalStack,
    requester: Teammate,
    connector: Teammate,
    target: str,
    *actions: Action,
    outcome: str = "",
) -> None:
    assert stack.services is not None
    workflow = stack.services.workflow
    draft = RequestDraft(
        requester=requester,
        connector=connector,
        target_name=target,
        target_company="Globex",
        reason="r",
        blurb="b",
    )
    submitted = await workflow.submit(TEAM, draft, [])
    for action in actions:
        await workflow.act(TEAM, submitted.request.id, connector.user_id, action)
    if outcome:
        await workflow.report_outcome(TEAM, submitted.request.id, requester.user_id, outcome)


def _history(card: dict) -> str | None:
    for block in card["blocks"]:
        if block.get("block_id") == "history":
            return str(block["elements"][0]["text"])
    return None


async def test_the_first_card_tells_the_connector_their_history_with_the_requester(
    stack: LocalStack, clock: ManualClock
) -> None:
    # Over a year ago: not counted.
    await _earlier(stack, RIYA, CARLOS, "Old Contact", Action.DECLINE)
    clock.advance(timedelta(days=400))
    # This year: an intro that led to a meeting, one Carlos declined, and one Riya made
    # for Carlos. Someone else's ask of Carlos is not Riya's history.
    made = (Action.ACCEPT, Action.TARGET_AGREED)
    await _earlier(stack, RIYA, CARLOS, "Ann Lee", *made, outcome="meeting_held")
    await _earlier(stack, RIYA, CARLOS, "Bo Chan", Action.DECLINE)
    await _earlier(stack, CARLOS, RIYA, "Cy Diaz", *made)
    await _earlier(stack, Teammate(OTHER, "Olivia Chen"), CARLOS, "Di Ford", Action.DECLINE)

    card = await request_intro(stack)
    assert _history(card) == (
        ":repeat: Riya has asked you for an intro twice in the last year: one intro made "
        "(a meeting came of it), one you declined. Riya has made one intro for you."
    )


async def test_no_history_no_line(stack: LocalStack) -> None:
    card = await request_intro(stack)
    assert _history(card) is None
    assert "in the last year" not in str(card)


async def test_intros_made_for_the_connector_alone(stack: LocalStack) -> None:
    await _earlier(stack, CARLOS, RIYA, "Cy Diaz", Action.ACCEPT, Action.TARGET_AGREED)
    await _earlier(stack, CARLOS, RIYA, "Ed Gray", Action.ACCEPT, Action.TARGET_AGREED)
    card = await request_intro(stack)
    assert _history(card) == ":repeat: Riya has made two intros for you in the last year."


async def test_the_history_is_read_in_one_statement(stack: LocalStack) -> None:
    await _earlier(stack, RIYA, CARLOS, "Ann Lee", Action.ACCEPT, Action.TARGET_AGREED)
    await _earlier(stack, CARLOS, RIYA, "Cy Diaz", Action.ACCEPT, Action.TARGET_AGREED)
    assert stack.services is not None
    request = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[0]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = stack.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        history = await stack.services.workflow.history(request, stack.services.clock.now())
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert history == History(asks=0, made_for_them=1)  # the ask itself is not its history
    assert [s for s in statements if s.lstrip().upper().startswith("SELECT")] == statements
    assert len(statements) == 1


async def test_the_history_stays_once_an_old_tie_is_confirmed(stack: LocalStack) -> None:
    await _earlier(stack, RIYA, CARLOS, "Bo Chan", Action.DECLINE)
    await _old_tie(stack)
    card = await request_intro(stack)
    assert "Still in touch?" in card_text(card)
    await press(stack, CONNECTOR, card, "intro_tie_yes")
    await stack.until(
        lambda: "Still in touch?" not in card_text(stack.fake.messages_for(CONNECTOR)[-1]),
        "question gone",
    )
    assert _history(stack.fake.messages_for(CONNECTOR)[-1]) == (
        ":repeat: Riya has asked you for an intro once in the last year: one you declined."
    )


async def test_a_new_asks_card_is_sent_without_reading_the_history_again(
    stack: LocalStack,
) -> None:
    """On PostgreSQL the statement that writes the ask reads the history too: sending the
    two cards then takes one statement, the one recording where they went."""
    await _earlier(stack, RIYA, CARLOS, "Bo Chan", Action.DECLINE)
    assert stack.services is not None
    engine = stack.services.engine.sync_engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes the ask with the ORM; its card reads the history")
    draft = RequestDraft(
        requester=RIYA,
        connector=CARLOS,
        target_name="Jane Doe",
        target_company="Globex",
        reason="r",
        blurb="b",
    )
    dispatcher = stack.services.dispatcher
    # As the form submits it: leased to this process, the review having found no old tie.
    outcome = await stack.services.workflow.submit(
        TEAM, draft, [], lease=dispatcher.lease(), stale_tie=None
    )
    assert outcome.history == History(asks=1, declined=1)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        await dispatcher.deliver_outcome(outcome)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and statements[0].lstrip().startswith("UPDATE"), statements
    assert _history(stack.fake.messages_for(CONNECTOR)[-1]) == (
        ":repeat: Riya has asked you for an intro once in the last year: one you declined."
    )
