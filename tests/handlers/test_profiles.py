"""A form's submission reads its people from the profiles every replica shares, kept warm by a
listing of the workspace's members and by Slack's team_join and user_change events."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import bot.intro.people
from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import IntroRequest
from tests.handlers.flow import (
    CONNECTOR,
    GOOD_BLURB,
    REQUESTER,
    SECOND,
    good_values,
    open_intro_modal,
    press,
    request_intro,
    submit,
)

TEAM = payloads.TEAM_ID


@pytest.fixture(autouse=True)
def no_memory_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every look-up is made as if by another replica: nothing kept in this process."""
    monkeypatch.setattr(bot.intro.people, "MEMORY_TTL", 0.0)


async def _stored(stack: LocalStack, *user_ids: str) -> None:
    """Wait until these people's profiles are stored (after the ack that looked them up)."""
    assert stack.services is not None
    profiles = stack.services.profiles
    deadline = asyncio.get_running_loop().time() + 10
    while len(await profiles.known(TEAM, user_ids)) < len(user_ids):
        assert asyncio.get_running_loop().time() < deadline, f"{user_ids} never stored"
        await asyncio.sleep(0.01)


async def _offer_to_requester(stack: LocalStack) -> str:
    """The connector runs `/intro offer @riya Jane Doe at Acme`; the reply."""
    assert stack.slack is not None
    command = payloads.slash_command(
        CONNECTOR,
        f"offer <@{REQUESTER}|riya> Jane Doe at Acme",
        stack.fake.issue_trigger_id(CONNECTOR),
        response_url=stack.fake.response_url(),
    )
    assert (await stack.slack.command(command))[0] == 200
    await stack.until(lambda: len(stack.fake.responses) == 1, "the reply")
    return str(stack.fake.responses[0]["body"]["text"])


async def test_the_members_are_listed_once_and_then_nobody_is_asked_about(
    stack: LocalStack,
) -> None:
    await request_intro(stack)
    await _stored(stack, *(person.user_id for person in stack.people))
    # Nobody was known yet: both people asked about, and the workspace's members listed.
    assert (stack.fake.count("users.info"), stack.fake.count("users.list")) == (2, 1)

    view = await open_intro_modal(stack)
    blurb = GOOD_BLURB.replace("Jane", "John").replace("Acme", "Globex")
    values = good_values(target_name="John Roe", target_company="Globex", blurb=blurb)
    assert await submit(stack, view, values) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 2, "second card")
    card = stack.fake.messages_for(CONNECTOR)[-1]
    assert "John Roe" in card["text"]
    assert (stack.fake.count("users.info"), stack.fake.count("users.list")) == (2, 1)


async def test_joining_and_changing_in_slack_reach_the_next_request(stack: LocalStack) -> None:
    assert stack.slack is not None and stack.services is not None
    await stack.slack.event(payloads.user_change(CONNECTOR, deleted=False, kind="team_join"))
    await stack.slack.event(
        payloads.user_change(REQUESTER, deleted=False, real_name="Riya Patel", title="VP Sales")
    )
    await _stored(stack, CONNECTOR, REQUESTER)

    await request_intro(stack)
    assert stack.fake.count("users.info") == 0
    async with stack.services.sessions() as session:
        request = await session.scalar(select(IntroRequest))
    assert request is not None
    assert (request.requester_name, request.requester_title) == ("Riya Patel", "VP Sales")


async def test_a_connector_deactivated_in_slack_is_refused_without_asking_slack(
    stack: LocalStack,
) -> None:
    assert stack.slack is not None
    await stack.slack.event(payloads.user_change(REQUESTER, deleted=False))
    await stack.slack.event(payloads.user_change(CONNECTOR, deleted=True))
    await _stored(stack, CONNECTOR, REQUESTER)

    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values())
    assert status == 200
    errors = json.loads(body)["errors"]
    assert list(errors) == [
        next(b["block_id"] for b in view["blocks"] if "connector" in b["block_id"])
    ]
    assert stack.fake.count("users.info") == 0
    assert stack.fake.messages_for(CONNECTOR) == []


async def test_the_people_the_review_names_come_with_its_statement(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connector at a limit: the form names the teammate to ask instead from their stored
    profile, read with the review, neither apart nor asked of Slack."""
    assert stack.slack is not None and stack.services is not None
    directory = stack.services.directory
    await directory.add_contact(TEAM, SECOND, ContactInput("Jane Doe", "Acme"))
    prefs = await directory.prefs(TEAM, CONNECTOR)
    prefs.snoozed_until = date(2099, 1, 1)
    await directory.save_prefs(prefs)
    await directory.set_enforce_pacing(TEAM, True)
    for user_id in (REQUESTER, CONNECTOR):
        await stack.slack.event(payloads.user_change(user_id, deleted=False))
    await stack.slack.event(payloads.user_change(SECOND, deleted=False, real_name="Sam Okafor"))
    await _stored(stack, REQUESTER, CONNECTOR, SECOND)

    async def read_apart(*_args: object) -> dict:
        raise AssertionError("stored profiles read apart from the review")

    monkeypatch.setattr(stack.services.profiles, "known", read_apart)
    view = await open_intro_modal(stack)
    _, body = await submit(stack, view, good_values())
    assert "Next best: Sam Okafor" in json.loads(body)["errors"]["connector"]
    assert stack.fake.count("users.info") == 0


async def test_a_reminder_goes_in_the_working_hours_of_the_stored_profile(
    database_url: str,
) -> None:
    clock = ManualClock()  # Monday 2026-01-05 15:00 UTC: 10:00 in New York, where Slack says
    async with LocalStack(database_url, clock=clock) as stack:
        assert stack.services is not None and stack.slack is not None
        card = await request_intro(stack)
        await press(stack, CONNECTOR, card, "intro_accept")
        await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "card")
        await stack.sends_recorded()
        await stack.settled()  # the members' listing the request started
        asked = stack.fake.count("users.info")

        # Friday 02:00 UTC, past the reminder's day (Thursday): 21:00 on Thursday in New York,
        # after hours, but 11:00 on Friday in Tokyo, where the connector's profile now says.
        clock.advance(timedelta(days=3, hours=11))
        await stack.slack.event(payloads.user_change(CONNECTOR, deleted=False, tz="Asia/Tokyo"))
        await _stored(stack, CONNECTOR)
        await stack.services.work.drain()
        while await stack.services.dispatcher.sweep():
            pass
        assert any(
            "Did *Jane Doe* answer?" in m["text"] for m in stack.fake.messages_for(CONNECTOR)
        )
        assert stack.fake.count("users.info") == asked  # nobody asked about


async def test_one_person_looked_up_reads_the_stored_profile(stack: LocalStack) -> None:
    """Not only submissions: an offer's rep (here), the redirect's suggestion, the requester
    going cold and the time zones behind buttons read the stored profiles too."""
    assert stack.slack is not None
    await stack.slack.event(payloads.user_change(REQUESTER, deleted=True))
    await _stored(stack, REQUESTER)

    reply = await _offer_to_requester(stack)
    # Deactivated in the stored profile, though Slack's users.info would call them active.
    assert f"I can only offer intros to active, human teammates, and <@{REQUESTER}>" in reply
    assert stack.fake.count("users.info") == 0


async def test_unreadable_stored_profiles_fall_back_to_slack(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored copy only spares Slack calls: when it cannot be read, Slack is asked."""
    assert stack.services is not None and stack.slack is not None

    async def unreadable(*_args: object) -> dict:
        raise OperationalError("SELECT FROM profiles", {}, Exception("connection lost"))

    monkeypatch.setattr(stack.services.profiles, "known", unreadable)
    reply = await _offer_to_requester(stack)
    assert f"I've sent <@{REQUESTER}> your offer of an intro to *Jane Doe* at *Acme*" in reply
    assert [call.args.get("user") for call in stack.fake.calls_to("users.info")] == [REQUESTER]
