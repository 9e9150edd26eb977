"""The offer-help digest through Slack: planned by the sweep, one a period, in working hours,
with Offer an intro and Not for me, and turned off in How often to ask me."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.intro.digests import Digests
from bot.intro.matching import company_key
from bot.intro.states import Action
from bot.standin import payloads
from bot.standin.stack import LocalStack
from bot.wiring.sweeper import sweep_until_idle
from storage.models import Contact, DigestAccount, MessageKind, OutboundMessage, TargetAccount
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

TEAM = "T0FAKE"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC: 10:00 in New York


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def list_account(stack: LocalStack, rep: str, company: str) -> None:
    """A row on a rep's list ("" : the workspace's), as the accounts import writes it."""
    assert stack.services is not None
    async with stack.services.sessions.begin() as session:
        session.add(
            TargetAccount(
                team_id=TEAM,
                list_owner_id=rep,
                company=company,
                company_key=company_key(company),
                added_by=rep or "U0ADMIN",
                added_at=stack.services.clock.now(),
            )
        )


async def knows(stack: LocalStack, owner: str, name: str, company: str, **kw: str) -> None:
    assert stack.services is not None
    entry = ContactInput(name, company, closeness=kw.get("closeness", "know_well"))
    await stack.services.directory.add_contact(TEAM, owner, entry)


async def connected_on_linkedin(stack: LocalStack, owner: str, name: str, company: str) -> None:
    assert stack.services is not None
    now = stack.services.clock.now()
    async with stack.services.sessions.begin() as session:
        session.add(
            Contact(
                team_id=TEAM,
                owner_id=owner,
                identity_key=f"{name}|{company}",
                name=name,
                name_key=name.lower(),
                surname_key=name.split()[-1].lower(),
                company=company,
                company_key=company_key(company),
                source="linkedin",
                closeness="met_once",
                created_at=now,
                updated_at=now,
            )
        )


async def sweep(stack: LocalStack, clock: ManualClock, after: timedelta = timedelta(0)) -> None:
    clock.advance(after)
    assert stack.services is not None
    await sweep_until_idle(stack.services)
    await stack.sends_recorded()


def digests_to(stack: LocalStack, user: str) -> list[dict]:
    return [
        m
        for m in stack.fake.messages_for(user)
        if any(
            e.get("action_id") == "intro_digest_offer"
            for b in m.get("blocks") or []
            for e in b.get("elements") or []
        )
        or "your team is working" in m.get("text", "")
    ]


async def digest_rows(stack: LocalStack) -> int:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.kind == MessageKind.DIGEST)
        )
    return int(count or 0)


@pytest.fixture
async def working(stack: LocalStack) -> LocalStack:
    """Riya works Acme and Globex, Sam works Globex; Carlos knows Jane at Acme and is
    connected with Ann at Globex; Riya's own contact at Acme is hers."""
    await list_account(stack, REQUESTER, "Acme")
    await list_account(stack, REQUESTER, "Globex Inc.")
    await list_account(stack, SECOND, "Globex")
    await knows(stack, CONNECTOR, "Jane Doe", "Acme")
    await connected_on_linkedin(stack, CONNECTOR, "Ann Park", "Globex")
    await knows(stack, REQUESTER, "Zed Hill", "Acme")
    return stack


async def test_a_connector_gets_one_digest_of_teammates_accounts_where_they_know_people(
    working: LocalStack, clock: ManualClock
) -> None:
    stack = working
    await sweep(stack, clock)
    [digest] = digests_to(stack, CONNECTOR)
    text = card_text(digest)
    assert "You know people at 2 accounts your team is working." in text
    assert f"*Acme* · on <@{REQUESTER}>'s list\nYou know *Jane Doe* well." in text
    assert f"on <@{REQUESTER}>'s and <@{SECOND}>'s lists" in text
    assert "You're connected with *Ann Park* on LinkedIn." in text
    assert "At most one of these a week" in text
    assert len(digest["blocks"]) <= 50
    # Riya works Acme herself: nothing tells her of her own account or her own contact.
    assert digests_to(stack, REQUESTER) == []
    # Contacts stay private: nobody but Carlos reads whom he knows.
    for user in (REQUESTER, OTHER, SECOND):
        assert all("Jane Doe" not in json.dumps(m) for m in stack.fake.messages_for(user))


async def test_one_digest_a_period_across_sweeps_and_replicas(
    working: LocalStack, clock: ManualClock
) -> None:
    stack = working
    assert stack.services is not None
    # Two replicas plan at once: one digest for Carlos.
    replica = Digests(stack.services.sessions, clock)
    planned = await asyncio.gather(stack.services.digests.plan(TEAM), replica.plan(TEAM))  # type: ignore[union-attr]
    assert sum(len(ids) for ids in planned) == 1
    await sweep(stack, clock)
    await sweep(stack, clock, timedelta(minutes=11))
    assert await replica.plan(TEAM) == []
    assert len(digests_to(stack, CONNECTOR)) == 1
    # Something new mid-week waits for the next period.
    await list_account(stack, OTHER, "Initech")
    await knows(stack, CONNECTOR, "Li Wei", "Initech")
    await sweep(stack, clock, timedelta(days=3))
    assert len(digests_to(stack, CONNECTOR)) == 1
    # A week after the last went: only what is new.
    await sweep(stack, clock, timedelta(days=4))
    assert len(digests_to(stack, CONNECTOR)) == 2
    latest = card_text(digests_to(stack, CONNECTOR)[-1])
    assert "You know people at an account your team is working." in latest
    assert "*Initech* · on <@U0OTHER>'s list" in latest
    assert "Acme" not in latest and "Globex" not in latest
    # Nothing new: nothing sent, however many weeks go by.
    for _ in range(3):
        await sweep(stack, clock, timedelta(days=7, minutes=11))
    assert len(digests_to(stack, CONNECTOR)) == 2
    assert await digest_rows(stack) == 2


async def test_a_digest_waits_for_the_connectors_working_hours(
    working: LocalStack, clock: ManualClock
) -> None:
    stack = working
    clock.advance(timedelta(days=5, hours=2))  # Saturday 17:00 UTC: the weekend in New York
    await sweep(stack, clock)
    assert await digest_rows(stack) == 1
    assert digests_to(stack, CONNECTOR) == []
    await sweep(stack, clock, timedelta(days=1, hours=20))  # Monday 08:00 in New York
    assert digests_to(stack, CONNECTOR) == []
    await sweep(stack, clock, timedelta(hours=1))  # 09:00 there
    assert len(digests_to(stack, CONNECTOR)) == 1


async def test_not_for_me_holds_for_a_quarter(working: LocalStack, clock: ManualClock) -> None:
    stack = working
    await sweep(stack, clock)
    [digest] = digests_to(stack, CONNECTOR)
    acme = next(
        b
        for b in digest["blocks"]
        if b.get("block_id") == "digest_actions_0"  # Acme: a declared tie, first
    )
    value = next(e for e in acme["elements"] if e["action_id"] == "intro_digest_not_for_me")
    assert stack.slack is not None
    status, _ = await stack.slack.interaction(
        payloads.block_action(
            CONNECTOR,
            "intro_digest_not_for_me",
            value["value"],
            stack.fake.issue_trigger_id(CONNECTOR),
            channel_id=digest["channel"],
            message_ts=digest["ts"],
        )
    )
    assert status == 200
    await stack.until(lambda: stack.fake.count("chat.update") == 1, "the digest updated")
    updated = card_text(stack.fake.calls_to("chat.update")[0].args)
    assert "Not for you: I won't bring up Acme again before 6 April." in updated
    # Sam starts working Acme too (news about it), and Carlos knows someone at Initech.
    await list_account(stack, SECOND, "Acme")
    await list_account(stack, OTHER, "Initech")
    await knows(stack, CONNECTOR, "Li Wei", "Initech")
    await sweep(stack, clock, timedelta(days=7, minutes=11))
    latest = card_text(digests_to(stack, CONNECTOR)[-1])
    assert "Initech" in latest and "Acme" not in latest
    # A quarter on, Acme (changed since he was told) may come up again.
    for _ in range(13):
        await sweep(stack, clock, timedelta(days=7, minutes=11))
    assert "Acme" in card_text(digests_to(stack, CONNECTOR)[-1])
    assert len(digests_to(stack, CONNECTOR)) == 3


async def test_turned_off_in_how_often_to_ask_me_no_digest_comes(
    working: LocalStack, clock: ManualClock
) -> None:
    stack = working
    assert stack.slack is not None
    payload = payloads.block_action(
        CONNECTOR, "intro_pacing_open", "", stack.fake.issue_trigger_id(CONNECTOR), on_home=True
    )
    await stack.slack.interaction(payload)
    await stack.until(lambda: stack.fake.count("views.open") == 1, "the modal")
    modal = stack.fake.calls_to("views.open")[0].args["view"]
    block = next(b for b in modal["blocks"] if b.get("block_id") == "offer_help")
    assert block["element"]["initial_option"]["value"] == "on"
    assert "at most once a week" in json.dumps(block)
    status, _ = await stack.slack.interaction(
        payloads.view_submission(CONNECTOR, modal, {"offer_help": "off"})
    )
    assert status == 200
    await stack.settled()
    for _ in range(3):
        await sweep(stack, clock, timedelta(days=7, minutes=11))
    assert digests_to(stack, CONNECTOR) == []
    # The modal shows the choice as it stands.
    payload = payloads.block_action(
        CONNECTOR, "intro_pacing_open", "", stack.fake.issue_trigger_id(CONNECTOR), on_home=True
    )
    await stack.slack.interaction(payload)
    await stack.until(lambda: stack.fake.count("views.open") == 2, "the modal again")
    again = stack.fake.calls_to("views.open")[1].args["view"]
    block = next(b for b in again["blocks"] if b.get("block_id") == "offer_help")
    assert block["element"]["initial_option"]["value"] == "off"


async def test_offer_an_intro_opens_the_offer_prefilled_and_sends_it(
    working: LocalStack, clock: ManualClock
) -> None:
    stack = working
    assert stack.slack is not None
    await sweep(stack, clock)
    [digest] = digests_to(stack, CONNECTOR)
    await press(stack, CONNECTOR, digest, "intro_digest_offer")
    await stack.until(lambda: stack.fake.count("views.open") == 1, "the offer form")
    call = stack.fake.calls_to("views.open")[0]
    assert call.ok, call.error
    form = call.args["view"]
    fields = {b.get("block_id"): b.get("element", {}) for b in form["blocks"]}
    assert fields["rep"]["initial_user"] == REQUESTER
    assert fields["target_company"]["initial_value"] == "Acme"
    status, body = await stack.slack.interaction(
        payloads.view_submission(
            CONNECTOR,
            form,
            {  # Slack reports the prefilled fields as chosen
                "rep": REQUESTER,
                "target_name": "Jane Doe",
                "target_company": "Acme",
                "reason": "Jane runs logistics at Acme and is looking at exactly what Riya sells.",
            },
        )
    )
    assert status == 200 and body == "", body
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "Riya's offer")
    offer = stack.fake.messages_for(REQUESTER)[0]
    assert (
        f"<@{CONNECTOR}> knows *Jane Doe* at *Acme* and offers to introduce you." in offer["text"]
    )
    button(offer, "intro_offer_take")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 2, "Carlos told")
    told = stack.fake.messages_for(CONNECTOR)[-1]["text"]
    assert told.startswith(":handshake: Offered. I've sent <@U0REQUESTER> your offer")


async def test_an_ask_open_through_the_connector_and_a_persons_no_leave_them_out(
    working: LocalStack, clock: ManualClock
) -> None:
    stack = working
    assert stack.services is not None
    card = await request_intro(stack, target_name="Jane Doe", target_company="Acme")
    await sweep(stack, clock)
    [digest] = digests_to(stack, CONNECTOR)
    assert "Acme" not in card_text(digest) and "Globex" in card_text(digest)
    # Jane says no to the intro: the ask is closed, and her no holds.
    request_id = int(button(card, "intro_accept")["value"])
    for action in (Action.ACCEPT, Action.TARGET_DECLINED):
        await stack.services.workflow.act(TEAM, request_id, CONNECTOR, action)
    await sweep(stack, clock, timedelta(days=7, minutes=11))
    assert len(digests_to(stack, CONNECTOR)) == 1  # Jane was his only way into Acme
    # Someone else he knows there is a way in.
    await knows(stack, CONNECTOR, "Bob Lee", "Acme", closeness="met_once")
    await sweep(stack, clock, timedelta(minutes=11))
    latest = card_text(digests_to(stack, CONNECTOR)[-1])
    assert "You've met *Bob Lee*." in latest and "Jane" not in latest


async def test_forget_me_forgets_what_digests_told_and_the_one_waiting_names_no_one(
    working: LocalStack, clock: ManualClock
) -> None:
    stack = working
    assert stack.slack is not None and stack.services is not None
    clock.advance(timedelta(hours=10))  # 20:00 in New York: the digest waits for the morning
    await sweep(stack, clock)
    assert await digest_rows(stack) == 1
    status, _ = await stack.slack.command(
        payloads.slash_command(
            CONNECTOR,
            "forget me",
            stack.fake.issue_trigger_id(CONNECTOR),
            response_url=stack.fake.response_url(),
        )
    )
    assert status == 200
    await stack.settled()
    async with stack.services.sessions() as session:
        told = await session.scalar(select(func.count()).select_from(DigestAccount))
    assert told == 0
    await sweep(stack, clock, timedelta(hours=14))  # his morning: nothing left to tell him
    assert digests_to(stack, CONNECTOR) == []


async def test_a_spelling_an_admin_merged_brings_its_ties_into_the_digest(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None
    await list_account(stack, REQUESTER, "Acme")
    await knows(stack, CONNECTOR, "Jane Doe", "Acme Logistics")
    await sweep(stack, clock)
    assert digests_to(stack, CONNECTOR) == []  # two companies, as far as anyone said
    await stack.services.directory.companies.merge(TEAM, "Acme", "Acme Logistics", clock.now())
    await sweep(stack, clock, timedelta(minutes=11))
    [digest] = digests_to(stack, CONNECTOR)
    assert f"*Acme* · on <@{REQUESTER}>'s list\nYou know *Jane Doe* well." in card_text(digest)
