"""An ask for a way in, not a person, through the signed endpoint and the stand-in Slack: the
requester names a company and a role; the teammate asked picks the person as they accept
(from their own contacts there, or typed); from there it is the usual double opt-in, and the
requester learns whom the connector picked only once that person agreed. The person's no
holds for any later ask, a way in included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import IntroRequest
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    SECOND,
    button,
    card_text,
    good_values,
    open_intro_modal,
    press,
    request_intro,
    submit,
)

TEAM = "T0FAKE"
WAY_IN_BLURB = (
    "Hi, I'm Riya, I run partnerships at Northwind. We help logistics teams like Acme's cut "
    "cross-border delays by a third. Would you be open to a 20-minute call next week to "
    "compare notes?"
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


def way_in_values(**overrides: str) -> dict[str, str]:
    values = {
        "target_name": "",
        "target_company": "Acme Inc.",
        "target_role": "whoever runs logistics",
        "blurb": WAY_IN_BLURB,
        **overrides,
    }
    return good_values(**values)


async def knows_people_at_acme(stack: LocalStack, user: str = CONNECTOR) -> dict[str, int]:
    """`user`'s contacts at Acme (and one elsewhere): name -> id."""
    assert stack.services is not None
    directory = stack.services.directory
    ids = {}
    for name, company, title in (
        ("Jane Doe", "ACME Inc", "COO"),
        ("Bob Lee", "Acme", ""),
        ("Gina Gold", "Globex", "CEO"),
    ):
        contact, _ = await directory.add_contact(
            TEAM, user, ContactInput(name, company, title, closeness="close")
        )
        ids[name] = contact.id
    return ids


async def ask_for_a_way_in(
    stack: LocalStack, requester: str = REQUESTER, connector: str = CONNECTOR
) -> dict:
    """`requester` asks `connector` for a way in at Acme; the connector's card."""
    view = await open_intro_modal(stack, user=requester)
    status, body = await submit(stack, view, way_in_values(connector=connector), user=requester)
    assert status == 200 and body == "", body
    await stack.until(lambda: len(stack.fake.messages_for(connector)) >= 1, "connector card")
    await stack.until(lambda: len(stack.fake.messages_for(requester)) >= 1, "requester card")
    await stack.sends_recorded()
    return stack.fake.messages_for(connector)[-1]


async def open_the_pick(stack: LocalStack, card: dict, connector: str = CONNECTOR) -> dict:
    """The connector presses Accept on a way in: the modal to pick the person."""
    before = stack.fake.count("views.open")
    await press(stack, connector, card, "intro_accept_way_in")
    await stack.until(lambda: stack.fake.count("views.open") > before, "the pick")
    call = stack.fake.calls_to("views.open")[-1]
    assert call.ok, call.error
    view: dict = call.args["view"]
    return {**view, "id": f"VPICK{before}"}


async def pick(
    stack: LocalStack, view: dict, connector: str = CONNECTOR, **values: str
) -> tuple[int, str]:
    assert stack.slack is not None
    return await stack.slack.interaction(payloads.view_submission(connector, view, values))


async def stored(stack: LocalStack) -> list[IntroRequest]:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        return list(await session.scalars(select(IntroRequest).order_by(IntroRequest.id)))


def all_text(stack: LocalStack, user: str) -> str:
    return "\n".join(
        card_text(m) + "\n" + m["text"] for m in stack.fake.messages_for(user)
    ) + json.dumps([m["blocks"] for m in stack.fake.messages_for(user)])


def action_ids(message: dict) -> list[str]:
    return [
        element.get("action_id", "")
        for block in message["blocks"]
        for element in block.get("elements", []) + [block.get("accessory") or {}]
        if isinstance(element, dict)
    ]


async def test_a_way_in_goes_to_the_teammate_who_knows_people_there_who_picks_the_person(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.slack is not None
    contacts = await knows_people_at_acme(stack)

    # The form, with no name and the company: who knows people there (not whom).
    view = await open_intro_modal(stack)
    await stack.slack.interaction(
        payloads.view_action(
            REQUESTER,
            view,
            {"action_id": "value", "block_id": "target_company", "type": "plain_text_input"},
            {"target_company": "Acme Inc."},
        )
    )
    await stack.until(lambda: stack.fake.count("views.update") == 1, "who knows people there")
    shown = stack.fake.calls_to("views.update")[0].args["view"]
    assert "Teammates who know people at Acme Inc." in json.dumps(shown)
    assert button(shown, "intro_pick_connector_1")["value"] == CONNECTOR
    assert "Bob Lee" not in json.dumps(shown) and "COO" not in json.dumps(shown)

    card = await ask_for_a_way_in(stack)
    text = card_text(card)
    assert f"<@{REQUESTER}> would like a way in at *Acme Inc.*" in text
    assert "ideally whoever runs logistics" in text
    ids = action_ids(card)
    assert "intro_accept_way_in" in ids and "intro_decline" in ids and "intro_redirect" in ids
    # Nothing to accept without a person, no name to lend, no one's tie to ask about yet.
    assert "intro_accept" not in ids and "intro_mention_name" not in ids
    assert "intro_qualify" not in ids
    mine = card_text(stack.fake.messages_for(REQUESTER)[0])
    assert "an intro to *someone (whoever runs logistics)* at *Acme Inc.*" in mine

    # Accept opens the pick: their own contacts at Acme, however it is spelled.
    modal = await open_the_pick(stack, card)
    [listed] = [b for b in modal["blocks"] if b.get("block_id") == "contact"]
    options = [o["text"]["text"] for o in listed["element"]["options"]]
    assert options == ["Jane Doe · COO", "Bob Lee"]  # by surname
    # Both, or neither: the form says which.
    status, body = await pick(stack, modal, contact=str(contacts["Jane Doe"]), person="Dana")
    assert status == 200 and "not both" in body
    status, body = await pick(stack, modal)
    assert status == 200 and "Pick the person you'll ask" in body

    status, body = await pick(stack, modal, contact=str(contacts["Jane Doe"]))
    assert status == 200 and body == "", body
    await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[0]["updates"] >= 1, "card")
    [request] = await stored(stack)
    assert (request.status, request.target_name, request.way_in) == (
        "checking_with_target",
        "Jane Doe",
        True,
    )
    assert request.target_surname_key == "doe"
    # The connector's card now reads as for any intro to Jane: the opt-in ask, the email.
    card = stack.fake.messages_for(CONNECTOR)[0]
    text = card_text(card)
    assert "*1. Ask Jane Doe first*" in text and "Hi Jane," in text
    assert "this is Jane Doe at Acme Inc." in text

    # The requester hears it was accepted, not whom the connector picked.
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 2, "accepted")
    await stack.sends_recorded()
    assert "Jane" not in all_text(stack, REQUESTER)

    await press(stack, CONNECTOR, card, "intro_target_agreed")
    await stack.until(lambda: "Jane Doe" in all_text(stack, REQUESTER), "the intro, by name")
    await stack.services.work.drain()
    requester_card = stack.fake.messages_for(REQUESTER)[0]
    await press(stack, REQUESTER, requester_card, "intro_outcome_meeting_held")
    await stack.until(
        lambda: any("met *Jane Doe*" in m["text"] for m in stack.fake.messages_for(CONNECTOR)),
        "the connector hears the outcome",
    )
    [request] = await stored(stack)
    assert (request.status, request.outcome) == ("meeting_held", "meeting_held")
    await stack.services.work.drain()

    # The funnel counts it like any request.
    status, _ = await stack.slack.command(
        payloads.slash_command(
            REQUESTER,
            "stats",
            stack.fake.issue_trigger_id(REQUESTER),
            response_url=stack.fake.response_url(),
        )
    )
    await stack.until(lambda: len(stack.fake.responses) == 1, "stats")
    stats = json.dumps(stack.fake.responses[0]["body"]["blocks"])
    assert "Requested *1* \\u2192 Accepted *1* (100%)" in stats


async def test_a_connector_with_no_one_there_on_their_list_types_the_person(
    stack: LocalStack,
) -> None:
    await knows_people_at_acme(stack, user=CONNECTOR)  # someone else's list: not shown
    card = await ask_for_a_way_in(stack, connector=OTHER)
    modal = await open_the_pick(stack, card, connector=OTHER)
    assert not [b for b in modal["blocks"] if b.get("block_id") == "contact"]
    assert "No one at Acme Inc. is on your list yet" in json.dumps(modal)
    assert "Bob Lee" not in json.dumps(modal) and "COO" not in json.dumps(modal)
    status, body = await pick(stack, modal, connector=OTHER, person="  Dana   Cole ")
    assert status == 200 and body == "", body
    await stack.until(lambda: stack.fake.messages_for(OTHER)[0]["updates"] >= 1, "card")
    [request] = await stored(stack)
    assert (request.status, request.target_name) == ("checking_with_target", "Dana Cole")
    assert "*1. Ask Dana Cole first*" in card_text(stack.fake.messages_for(OTHER)[0])


async def test_a_plain_accept_of_a_way_in_is_refused_until_the_person_is_picked(
    stack: LocalStack,
) -> None:
    assert stack.slack is not None
    card = await ask_for_a_way_in(stack)
    value = button(card, "intro_accept_way_in")["value"]
    told = stack.fake.count("chat.postEphemeral")
    status, _ = await stack.slack.interaction(
        payloads.block_action(
            CONNECTOR,
            "intro_accept",
            value,
            stack.fake.issue_trigger_id(CONNECTOR),
            channel_id=card.get("channel"),
            message_ts=card.get("ts"),
        )
    )
    assert status == 200
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") > told, "refusal")
    assert (
        "pick the person to ask first" in stack.fake.calls_to("chat.postEphemeral")[-1].args["text"]
    )
    [request] = await stored(stack)
    assert (request.status, request.target_name) == ("awaiting_connector", "")


async def test_the_persons_no_is_kept_from_the_requester_and_holds_for_a_later_way_in(
    stack: LocalStack,
) -> None:
    contacts = await knows_people_at_acme(stack)
    card = await ask_for_a_way_in(stack)
    status, body = await pick(
        stack, await open_the_pick(stack, card), contact=str(contacts["Jane Doe"])
    )
    assert status == 200 and body == "", body
    await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[0]["updates"] >= 1, "card")
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_target_declined")
    await stack.until(
        lambda: "said no to an intro" in all_text(stack, REQUESTER), "the requester hears"
    )
    await stack.sends_recorded()
    # Whom the connector asked stays theirs: the requester hears a no, not a name.
    assert "Jane" not in all_text(stack, REQUESTER)
    assert "intro_go_cold" not in all_text(stack, REQUESTER)

    # A teammate's later way in at Acme, to the same connector: Jane can't be picked.
    card = await ask_for_a_way_in(stack, requester=SECOND)
    modal = await open_the_pick(stack, card)
    status, body = await pick(stack, modal, contact=str(contacts["Jane Doe"]))
    assert status == 200 and "Jane Doe declined an intro on 5 January" in body
    status, body = await pick(stack, modal, person="jane doe")
    assert status == 200 and "declined an intro" in body
    later = (await stored(stack))[-1]
    assert (later.status, later.target_name) == ("awaiting_connector", "")
    # Someone else there is fine.
    status, body = await pick(stack, modal, contact=str(contacts["Bob Lee"]))
    assert status == 200 and body == "", body
    await stack.settled()
    later = (await stored(stack))[-1]
    assert (later.status, later.target_name) == ("checking_with_target", "Bob Lee")


async def test_the_requesters_own_open_ask_for_the_person_is_not_doubled(
    stack: LocalStack,
) -> None:
    contacts = await knows_people_at_acme(stack)
    await request_intro(stack, connector=OTHER)  # Riya's ask for Jane Doe, with Olivia
    card = await ask_for_a_way_in(stack)
    modal = await open_the_pick(stack, card)
    status, body = await pick(stack, modal, contact=str(contacts["Jane Doe"]))
    assert status == 200 and "They already have an open ask for Jane Doe" in body
