"""While the connector checks with the target, through the signed endpoint and the fake Slack:
"Did Jane answer?" reminders and "Still waiting", the ask going quiet (the requester offered
a second path and the cold path), and "Not now" coming back on the day the connector chose."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action, Status
from bot.intro.validation import RequestDraft
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import RequestEvent
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    SECOND,
    button,
    card_text,
    press,
    request_intro,
)

CHECK = "Did *Jane Doe* answer?"
QUIET = "has gone quiet"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC: 10:00 in New York


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def sweep(stack: LocalStack) -> None:
    assert stack.services is not None
    await stack.services.work.drain()
    while await stack.services.dispatcher.sweep():
        pass


def texts(stack: LocalStack, user: str) -> list[str]:
    return [m["text"] for m in stack.fake.messages_for(user)]


def latest(stack: LocalStack, user: str, words: str) -> dict:
    return [m for m in stack.fake.messages_for(user) if words in m["text"]][-1]


async def accepted(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[0]["updates"] >= 1, "card")
    await sweep(stack)


async def status_of(stack: LocalStack) -> Status:
    assert stack.services is not None
    (request,) = await stack.services.workflow.requests_by("T0FAKE", REQUESTER)
    return Status(request.status)


async def test_a_reminder_then_still_waiting_keeps_the_next_one(
    stack: LocalStack, clock: ManualClock
) -> None:
    await accepted(stack)
    clock.advance(timedelta(days=2))  # Wednesday: not yet
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if CHECK in t]
    clock.advance(timedelta(days=1))  # Thursday, three working days on
    await sweep(stack)
    reminder = latest(stack, CONNECTOR, CHECK)
    assert "intro to <@U0REQUESTER>" in reminder["text"]
    assert "last reminder" not in reminder["text"]
    actions = [e["action_id"] for b in reminder["blocks"] for e in b.get("elements", [])]
    assert actions == [
        "intro_target_agreed",
        "intro_target_declined",
        "intro_target_not_now",
        "intro_still_waiting",
    ]

    await press(stack, CONNECTOR, reminder, "intro_still_waiting")
    await stack.until(lambda: latest(stack, CONNECTOR, "still waiting")["updates"] == 1, "thanks")
    updated = latest(stack, CONNECTOR, "still waiting")
    assert updated["ts"] == reminder["ts"]  # that message, updated
    # Thursday + 3 working days: the next reminder is on Tuesday.
    assert "I'll check with you again on Tuesday 13 January." in updated["text"]
    assert "intro_still_waiting" not in str(updated["blocks"])
    assert "intro_target_agreed" in str(updated["blocks"])
    assert await status_of(stack) == Status.CHECKING_WITH_TARGET

    clock.advance(timedelta(days=5))  # Tuesday: the second and last one
    await sweep(stack)
    (second,) = [m for m in stack.fake.messages_for(CONNECTOR) if CHECK in m["text"]]
    assert second["ts"] != reminder["ts"]
    assert "This is my last reminder" in second["text"]
    await press(stack, CONNECTOR, latest(stack, CONNECTOR, "last reminder"), "intro_still_waiting")
    await stack.until(
        lambda: "gone quiet" in latest(stack, CONNECTOR, "still waiting")["text"], "thanks"
    )
    assert (
        "If they haven't answered by Friday 16 January"
        in (latest(stack, CONNECTOR, "still waiting")["text"])
    )


async def test_a_reminder_waits_for_the_connectors_working_hours(
    stack: LocalStack, clock: ManualClock
) -> None:
    clock.advance(timedelta(hours=8))  # Monday 23:00 UTC: 18:00 in New York
    await accepted(stack)
    clock.advance(timedelta(days=3))  # Thursday 18:00 in New York: after hours
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if CHECK in t]
    clock.advance(timedelta(hours=14))  # Friday 08:00
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if CHECK in t]
    clock.advance(timedelta(hours=1))  # Friday 09:00
    await sweep(stack)
    assert len([t for t in texts(stack, CONNECTOR) if CHECK in t]) == 1


async def test_two_unanswered_reminders_then_the_ask_goes_quiet(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None
    # Olivia introduced someone at Acme before: she is a second path.
    earlier = await stack.services.workflow.submit(
        "T0FAKE",
        RequestDraft(
            requester=Teammate(SECOND, "Sam Okafor"),
            connector=Teammate(OTHER, "Olivia Chen"),
            target_name="John Roe",
            target_company="Acme",
            reason="r",
            blurb="b",
        ),
        [],
    )
    for action in (Action.ACCEPT, Action.TARGET_AGREED):
        await stack.services.workflow.act("T0FAKE", earlier.request.id, OTHER, action)
    await accepted(stack)
    clock.advance(timedelta(days=3))  # Thursday: the first
    await sweep(stack)
    clock.advance(timedelta(days=5))  # Tuesday (the weekend doesn't count): the last
    await sweep(stack)
    assert len([t for t in texts(stack, CONNECTOR) if CHECK in t]) == 2
    clock.advance(timedelta(days=2))  # Thursday
    await sweep(stack)
    assert not [t for t in texts(stack, REQUESTER) if QUIET in t]
    assert await status_of(stack) == Status.CHECKING_WITH_TARGET

    clock.advance(timedelta(days=1))  # Friday: three working days after the last
    await sweep(stack)
    assert await status_of(stack) == Status.TARGET_QUIET
    quiet = latest(stack, REQUESTER, QUIET)
    assert "<@U0CONNECTOR> asked them, but no answer came" in quiet["text"]
    # A dead end like any other: the next paths (Olivia introduced Jane before), someone
    # else, or going in cold.
    first_path = next(b for b in quiet["blocks"] if b.get("block_id") == "next_path_1")
    assert first_path["text"]["text"] == "1. <@U0OTHER>"
    assert button(quiet, "intro_ask_secondary_1")["value"].endswith(":U0OTHER")
    assert button(quiet, "intro_go_cold")
    # The connector's card says the ask is closed; and the whole of it is said once.
    await stack.until(
        lambda: "never answered" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "card"
    )
    assert "*Closed*" in card_text(stack.fake.messages_for(CONNECTOR)[0])
    assert "target_answer_actions" not in str(stack.fake.messages_for(CONNECTOR)[0]["blocks"])
    clock.advance(timedelta(days=10))
    await sweep(stack)
    assert len([t for t in texts(stack, REQUESTER) if QUIET in t]) == 1
    async with stack.services.sessions() as session:
        moves = await session.scalar(
            select(func.count())
            .select_from(RequestEvent)
            .where(RequestEvent.action == Action.GO_QUIET.value)
        )
    assert moves == 1

    # The second path: a new request to Olivia, prefilled from this one.
    await press(stack, REQUESTER, quiet, "intro_ask_secondary_1")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "the form")
    form = stack.fake.calls_to("views.open")[-1].args["view"]
    assert "Jane Doe" in str(form) and OTHER in str(form)


async def test_an_answer_before_the_reminder_cancels_it(
    stack: LocalStack, clock: ManualClock
) -> None:
    await accepted(stack)
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_target_declined")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 3, "notice")
    clock.advance(timedelta(days=20))
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if CHECK in t]
    assert not [t for t in texts(stack, REQUESTER) if QUIET in t]


async def _not_now(stack: LocalStack, message: dict, day: str) -> tuple[int, str]:
    assert stack.slack is not None
    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, message, "intro_target_not_now")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "the date picker")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    return await stack.slack.interaction(
        payloads.view_submission(CONNECTOR, view, {"ask_again_on": day})
    )


async def test_not_now_comes_back_on_its_day_then_they_agree(
    stack: LocalStack, clock: ManualClock
) -> None:
    await accepted(stack)
    card = stack.fake.messages_for(CONNECTOR)[0]
    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, card, "intro_target_not_now")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "the date picker")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    picker = next(b for b in view["blocks"] if b.get("block_id") == "ask_again_on")
    assert picker["element"]["type"] == "datepicker"
    assert picker["element"]["initial_date"] == "2026-02-02"  # four weeks out

    status, body = await _not_now(stack, card, "2026-01-05")  # today: refused
    assert status == 200 and "after today" in body
    assert await status_of(stack) == Status.CHECKING_WITH_TARGET

    status, body = await _not_now(stack, card, "2026-01-26")
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 3, "the notice")
    notice = stack.fake.messages_for(REQUESTER)[-1]["text"]
    assert "*Jane Doe* said not now." in notice
    assert "<@U0CONNECTOR> will ask them again on Monday 26 January" in notice
    assert await status_of(stack) == Status.ASK_LATER
    await stack.until(
        lambda: (
            "On Monday 26 January I'll send you your ask again"
            in card_text(stack.fake.messages_for(CONNECTOR)[0])
        ),
        "the card",
    )

    clock.advance(timedelta(days=20))  # Sunday 25 January, 10:00 in New York
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if "said not now" in t]
    clock.advance(timedelta(hours=14))  # Monday 00:00 in New York: before working hours
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if "said not now" in t]
    assert await status_of(stack) == Status.ASK_LATER
    clock.advance(timedelta(hours=9))  # Monday 09:00 in New York
    await sweep(stack)
    again = latest(stack, CONNECTOR, "said not now")
    assert "you chose Monday 26 January to ask them again" in again["text"]
    ask = next(b for b in again["blocks"] if b.get("block_id") == "optin_ask")
    assert ask["text"]["text"].startswith("```Hi Jane, a colleague of mine")
    assert "Riya" not in ask["text"]["text"]
    assert await status_of(stack) == Status.CHECKING_WITH_TARGET
    back = latest(stack, REQUESTER, "again")
    assert "<@U0CONNECTOR> is asking *Jane Doe* again about your intro" in back["text"]

    await press(stack, CONNECTOR, again, "intro_target_agreed")
    await stack.until(lambda: any("agreed" in t for t in texts(stack, REQUESTER)), "intro made")
    assert await status_of(stack) == Status.INTRO_MADE
    clock.advance(timedelta(days=20))
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if CHECK in t]


async def test_checks_start_over_after_not_now_and_cancel_still_works(
    stack: LocalStack, clock: ManualClock
) -> None:
    await accepted(stack)
    await _not_now(stack, stack.fake.messages_for(CONNECTOR)[0], "2026-01-07")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 3, "the notice")
    clock.advance(timedelta(days=2))  # Wednesday 7 January
    await sweep(stack)
    assert await status_of(stack) == Status.CHECKING_WITH_TARGET
    clock.advance(timedelta(days=2))  # Friday: not three working days since
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if CHECK in t]
    clock.advance(timedelta(days=3))  # Monday 12 January
    await sweep(stack)
    assert len([t for t in texts(stack, CONNECTOR) if CHECK in t]) == 1

    await _not_now(stack, latest(stack, CONNECTOR, CHECK), "2026-03-02")
    await stack.until(lambda: any("Monday 2 March" in t for t in texts(stack, REQUESTER)), "n")
    assert await status_of(stack) == Status.ASK_LATER
    requester_card = stack.fake.messages_for(REQUESTER)[0]
    await press(stack, REQUESTER, requester_card, "intro_cancel")
    await stack.until(
        lambda: "You withdrew this ask" in card_text(stack.fake.messages_for(REQUESTER)[0]),
        "the requester's card",
    )
    assert await status_of(stack) == Status.CANCELLED
    clock.advance(timedelta(days=60))
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if "chose Monday 2 March" in t]


async def test_the_ask_goes_quiet_in_the_requesters_working_hours(
    stack: LocalStack, clock: ManualClock
) -> None:
    clock.advance(timedelta(hours=8))  # Monday 23:00 UTC: 18:00 in New York
    await accepted(stack)
    clock.advance(timedelta(days=11))  # Friday 16 January, 18:00 in New York: due, after hours
    await sweep(stack)
    assert not [t for t in texts(stack, REQUESTER) if QUIET in t]
    assert await status_of(stack) == Status.CHECKING_WITH_TARGET  # nothing moved yet
    clock.advance(timedelta(days=2, hours=15))  # Monday 09:00 in New York
    await sweep(stack)
    assert len([t for t in texts(stack, REQUESTER) if QUIET in t]) == 1
    assert await status_of(stack) == Status.TARGET_QUIET


async def test_a_send_taken_over_after_the_move_still_tells_the_requester_once(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None
    await accepted(stack)
    (request,) = await stack.services.workflow.requests_by("T0FAKE", REQUESTER)
    # A replica made the move, then died before its message went out.
    await stack.services.workflow.system_act("T0FAKE", request.id, Action.GO_QUIET)
    clock.advance(timedelta(days=11))
    await sweep(stack)
    assert len([t for t in texts(stack, REQUESTER) if QUIET in t]) == 1
    async with stack.services.sessions() as session:
        moves = await session.scalar(
            select(func.count())
            .select_from(RequestEvent)
            .where(RequestEvent.action == Action.GO_QUIET.value)
        )
    assert moves == 1
