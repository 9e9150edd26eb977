"""Closing the loop through Slack: nudges, a stalled ask's second path, follow-up, outcome."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action, Status
from bot.intro.validation import RequestDraft
from bot.standin import payloads
from bot.standin.stack import DEFAULT_PEOPLE, LocalStack
from storage.models import DeliveryStatus, MessageKind, OutboundMessage
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    SECOND,
    SELECTS,
    button,
    card_text,
    press,
    request_intro,
    submit,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC: 10:00 in New York


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def sweep(stack: LocalStack) -> int:
    assert stack.services is not None
    return await stack.services.dispatcher.sweep()


def texts(stack: LocalStack, user: str) -> list[str]:
    return [m["text"] for m in stack.fake.messages_for(user)]


async def test_nudges_then_a_stalled_ask_offers_a_second_path(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None
    # Olivia introduced someone at Acme before: she is the second path.
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
    await sweep(stack)  # that request's own cards and notices

    await request_intro(stack)
    clock.advance(timedelta(days=1))
    await sweep(stack)
    assert not [t for t in texts(stack, CONNECTOR) if "gentle nudge" in t]

    clock.advance(timedelta(days=1))  # two working days: Wednesday
    await sweep(stack)
    nudges = [t for t in texts(stack, CONNECTOR) if "gentle nudge" in t]
    assert len(nudges) == 1
    assert "intro_accept" in str(stack.fake.messages_for(CONNECTOR)[-1]["blocks"])

    clock.advance(timedelta(days=2))  # Friday
    await sweep(stack)
    assert len([t for t in texts(stack, CONNECTOR) if "gentle nudge" in t]) == 2

    clock.advance(timedelta(days=2))  # the weekend doesn't count
    await sweep(stack)
    assert not [t for t in texts(stack, REQUESTER) if "has stalled" in t]
    clock.advance(timedelta(days=2))  # Tuesday: stalled
    await sweep(stack)
    stalled = stack.fake.messages_for(REQUESTER)[-1]
    assert "has stalled" in stalled["text"]
    assert button(stalled, "intro_ask_secondary_1")["text"]["text"] == "Ask them"
    assert f"<@{OTHER}>" in card_text(stalled)

    await press(stack, REQUESTER, stalled, "intro_ask_secondary_1")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "prefilled modal")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    values = {
        b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
        for b in view["blocks"]
        if b.get("type") == "input" and b["block_id"] not in SELECTS
    }
    assert values[f"connector:{OTHER}"] == OTHER
    await submit(stack, view, values)
    await stack.until(lambda: len(stack.fake.messages_for(OTHER)) == 1, "Olivia's card")
    await stack.until(
        lambda: "asked someone else" in card_text(stack.fake.messages_for(CONNECTOR)[0]),
        "Carlos's card says the ask was withdrawn",
    )
    second, first = await stack.services.workflow.requests_by("T0FAKE", REQUESTER)
    assert first.status == Status.REROUTED
    assert second.previous_request_id == first.id


async def test_reminders_stop_once_the_connector_answers(
    stack: LocalStack, clock: ManualClock
) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    assert stack.services is not None
    await stack.services.work.drain()
    clock.advance(timedelta(days=14))
    await sweep(stack)  # what is due now are the reminders while he checks with the target
    assert not [t for t in texts(stack, CONNECTOR) if "nudge" in t]
    assert not [t for t in texts(stack, REQUESTER) if "stalled" in t]
    async with stack.services.sessions() as session:
        reminders = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.kind == MessageKind.REMINDER)
            )
        ).all()
    waiting_on_him = [r for r in reminders if r.data["reminder"] in ("nudge", "stalled")]
    assert len(waiting_on_him) == 3
    assert {r.status for r in waiting_on_him} == {DeliveryStatus.CANCELLED}


async def _intro_made(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[0]["updates"] >= 1, "card")
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_target_agreed")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 3, "intro notice")
    assert stack.services is not None
    await stack.services.work.drain()


async def test_follow_up_in_working_hours_then_outcome_thanks_the_connector(
    stack: LocalStack, clock: ManualClock
) -> None:
    await _intro_made(stack)  # Monday 10:00 in New York
    await sweep(stack)
    clock.advance(timedelta(hours=2, minutes=59))
    await sweep(stack)
    assert len(texts(stack, REQUESTER)) == 3  # not yet: a few working hours after the intro
    clock.advance(timedelta(minutes=1))  # 13:00 in New York
    await sweep(stack)
    reminder = stack.fake.messages_for(REQUESTER)[-1]
    assert "while the intro is warm" in reminder["text"]
    assert "introduced you to *Jane Doe* today." in reminder["text"]

    await press(stack, REQUESTER, reminder, "intro_followed_up")
    assert stack.services is not None
    await stack.until(
        lambda: "Followed up" in card_text(stack.fake.messages_for(REQUESTER)[0]), "card"
    )
    clock.advance(timedelta(days=7))
    await sweep(stack)
    ask = stack.fake.messages_for(REQUESTER)[-1]
    assert "What came of the intro" in ask["text"]
    await press(stack, REQUESTER, ask, "intro_outcome_meeting_held")
    await stack.until(lambda: any("met *Jane Doe*" in t for t in texts(stack, CONNECTOR)), "thanks")
    told = texts(stack, CONNECTOR)[-1]
    assert "met *Jane Doe* after your intro" in told
    # The thanks are the requester's own to send: they are offered where they answered.
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") == 1, "thanks offered")
    assert "intro_thank_connector" in str(stack.fake.calls_to("chat.postEphemeral")[0].args)
    request = (await stack.services.workflow.requests_by("T0FAKE", REQUESTER))[0]
    assert (request.status, request.outcome) == (Status.MEETING_HELD, "meeting_held")


@pytest.mark.parametrize(
    ("intro_at", "requester_tz", "held", "arrives_after", "when"),
    [
        # Friday 16:00 in New York: before their day ends, not on Monday.
        (datetime(2026, 1, 9, 21, 0, tzinfo=UTC), "America/New_York", 29, 30, "today"),
        # Tuesday 20:00 in New York: three hours into their next working day.
        (
            datetime(2026, 1, 7, 1, 0, tzinfo=UTC),
            "America/New_York",
            16 * 60 - 1,
            16 * 60,
            "yesterday",
        ),
        # Saturday in New York: nothing within a day, so Monday 09:00.
        (
            datetime(2026, 1, 10, 15, 0, tzinfo=UTC),
            "America/New_York",
            47 * 60 - 1,
            47 * 60,
            "on Saturday",
        ),
        # The same Friday moment is Saturday morning in Tokyo: Monday 09:00 there.
        (
            datetime(2026, 1, 9, 21, 0, tzinfo=UTC),
            "Asia/Tokyo",
            51 * 60 - 1,
            51 * 60,
            "on Saturday",
        ),
    ],
    ids=["friday-afternoon", "late-evening", "weekend", "other-zone"],
)
async def test_the_follow_up_comes_within_the_requesters_working_day(
    database_url: str,
    intro_at: datetime,
    requester_tz: str,
    held: int,
    arrives_after: int,
    when: str,
) -> None:
    clock = ManualClock(intro_at - timedelta(minutes=1))
    people = tuple(
        replace(p, tz=requester_tz) if p.user_id == REQUESTER else p for p in DEFAULT_PEOPLE
    )
    async with LocalStack(database_url, clock=clock, people=people) as stack:
        card = await request_intro(stack)
        await press(stack, CONNECTOR, card, "intro_accept")
        await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[0]["updates"] >= 1, "card")
        clock.advance(timedelta(minutes=1))
        await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_target_agreed")
        await stack.until(lambda: len(texts(stack, REQUESTER)) == 3, "intro notice")
        assert stack.services is not None
        await stack.services.work.drain()
        await sweep(stack)
        clock.advance(timedelta(minutes=held))
        await sweep(stack)
        assert not [t for t in texts(stack, REQUESTER) if "Follow up now" in t]
        clock.advance(timedelta(minutes=arrives_after - held))
        await sweep(stack)
        follow_ups = [t for t in texts(stack, REQUESTER) if "Follow up now" in t]
        assert len(follow_ups) == 1
        assert f"introduced you to *Jane Doe* {when}." in follow_ups[0]


async def test_no_follow_up_reminder_once_marked_followed_up(
    stack: LocalStack, clock: ManualClock
) -> None:
    await _intro_made(stack)
    await press(stack, REQUESTER, stack.fake.messages_for(REQUESTER)[0], "intro_followed_up")
    assert stack.services is not None
    await stack.until(
        lambda: "Followed up" in card_text(stack.fake.messages_for(REQUESTER)[0]), "card"
    )
    await stack.services.work.drain()
    before = len(texts(stack, REQUESTER))
    clock.advance(timedelta(days=1))
    await sweep(stack)
    assert len(texts(stack, REQUESTER)) == before


async def test_after_downtime_what_fell_due_is_sent_once(
    database_url: str, clock: ManualClock
) -> None:
    async with LocalStack(database_url, clock=clock) as first_run:
        await request_intro(first_run)
        assert first_run.services is not None
        await first_run.services.work.drain()
    clock.advance(timedelta(days=2, hours=1))  # the bot was down when the nudge fell due
    async with LocalStack(database_url, clock=clock, sweep=True) as second_run:
        await second_run.until(lambda: second_run.fake.count("chat.postMessage") >= 1, "nudge")
        await asyncio.sleep(1.5)  # another sweep tick: nothing more is sent
        nudges = [c for c in second_run.fake.calls_to("chat.postMessage") if c.ok]
        assert len(nudges) == 1 and "gentle nudge" in nudges[0].args["text"]


async def test_only_the_latest_of_several_overdue_reminders_is_sent(
    stack: LocalStack, clock: ManualClock
) -> None:
    await request_intro(stack)
    clock.advance(timedelta(days=4))  # Friday: both nudges are due
    await sweep(stack)
    assert len([t for t in texts(stack, CONNECTOR) if "gentle nudge" in t]) == 1
    await sweep(stack)
    assert len([t for t in texts(stack, CONNECTOR) if "gentle nudge" in t]) == 1


async def test_a_retried_event_is_acted_on_once(stack: LocalStack) -> None:
    assert stack.slack is not None
    event = payloads.app_home_opened(REQUESTER)
    await stack.slack.event(event)
    body = __import__("json").dumps(event)
    headers = stack.slack.signed_headers(body, "application/json")
    headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    status, _ = await stack.slack.post_raw(body, "", headers)
    assert status == 200
    assert stack.services is not None
    await stack.until(lambda: stack.fake.count("views.publish") == 1, "home")
    await stack.services.work.drain()
    assert stack.fake.count("views.publish") == 1


async def test_slacks_retry_of_an_event_whose_work_failed_is_acted_on(stack: LocalStack) -> None:
    assert stack.slack is not None and stack.services is not None
    # The Home tab can't be published: once, and once for each retry of the app's client.
    stack.fake.fail_next("views.publish", status=500, times=3)
    event = payloads.app_home_opened(REQUESTER)
    status, _ = await stack.slack.event(event)
    assert status == 200
    await stack.until(lambda: stack.fake.count("views.publish") == 3, "the failed publishes")
    await stack.services.work.drain()
    body = json.dumps(event)
    headers = stack.slack.signed_headers(body, "application/json")
    headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    status, _ = await stack.slack.post_raw(body, "", headers)
    assert status == 200
    await stack.until(
        lambda: any(c.ok for c in stack.fake.calls_to("views.publish")), "the retry's Home tab"
    )


async def test_the_home_tab_is_built_on_one_database_connection(stack: LocalStack) -> None:
    """Its reads share one session: a burst of Home opens can't take the pool five at a time."""
    assert stack.slack is not None and stack.services is not None
    checkouts = 0

    def counted(*_args: object) -> None:
        nonlocal checkouts
        checkouts += 1

    event.listen(stack.services.engine.sync_engine, "checkout", counted)
    try:
        await stack.slack.event(payloads.app_home_opened(REQUESTER))
        await stack.until(lambda: stack.fake.count("views.publish") == 1, "the Home tab")
        await stack.services.work.drain()
    finally:
        event.remove(stack.services.engine.sync_engine, "checkout", counted)
    # The Home tab's reads, plus the one that records the event's id for Slack's retries.
    assert checkouts == 2
