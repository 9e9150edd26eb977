"""Outcome stages and the secondary intro through the signed endpoint and the fake Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action, Status
from bot.intro.validation import RequestDraft
from bot.standin import payloads
from bot.standin.stack import LocalStack
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

TEAM = "T0FAKE"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC: 10:00 in New York


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


def texts(stack: LocalStack, user: str) -> list[str]:
    return [m["text"] for m in stack.fake.messages_for(user)]


async def intro_made(stack: LocalStack) -> dict:
    """An intro to Jane Doe, made; the requester's card."""
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[0]["updates"] >= 1, "card")
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_target_agreed")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 3, "intro notice")
    assert stack.services is not None
    await stack.services.work.drain()
    return stack.fake.messages_for(REQUESTER)[0]


async def test_meeting_then_closed_won_tells_the_connector_each_time(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None
    card = await intro_made(stack)
    before = len(texts(stack, CONNECTOR))
    await press(stack, REQUESTER, card, "intro_outcome_meeting_held")
    await stack.until(lambda: len(texts(stack, CONNECTOR)) == before + 1, "first thanks")
    assert "met *Jane Doe* after your intro" in texts(stack, CONNECTOR)[-1]
    await stack.until(
        lambda: "Meeting held" in card_text(stack.fake.messages_for(REQUESTER)[0]), "card"
    )
    # The card offers only what may come next.
    card = stack.fake.messages_for(REQUESTER)[0]
    assert [a for a in action_ids(card) if a.startswith("intro_outcome_")] == [
        "intro_outcome_opportunity",
        "intro_outcome_closed_won",
        "intro_outcome_closed_lost",
        "intro_outcome_not_a_fit",
    ]
    await stack.services.work.drain()

    # A month on, in the requester's working hours, the question comes again.
    clock.advance(timedelta(days=30))
    await stack.services.dispatcher.sweep()
    again = stack.fake.messages_for(REQUESTER)[-1]
    assert "Any news since your meeting with *Jane Doe* at *Acme* on Jan 5?" in again["text"]
    await press(stack, REQUESTER, again, "intro_outcome_closed_won")
    await stack.until(lambda: len(texts(stack, CONNECTOR)) == before + 2, "second thanks")
    assert texts(stack, CONNECTOR)[-1].startswith(":trophy: Closed-won:")
    await stack.services.work.drain()

    # A second press of a stale button is refused, and nobody is told again.
    told = stack.fake.count("chat.postEphemeral")
    await press(stack, REQUESTER, again, "intro_outcome_closed_won")
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") == told + 1, "refusal")
    assert "out of date" in stack.fake.calls_to("chat.postEphemeral")[-1].args["text"]
    await stack.services.work.drain()
    assert len(texts(stack, CONNECTOR)) == before + 2
    request = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[0]
    assert (request.status, request.outcome) == (Status.CLOSED, "closed_won")
    assert request.meeting_at is not None and request.won_at is not None
    async with stack.services.sessions() as session:
        pending = (
            await session.scalars(
                select(OutboundMessage).where(
                    OutboundMessage.kind == MessageKind.REMINDER,
                    OutboundMessage.status == DeliveryStatus.PENDING,
                )
            )
        ).all()
    assert pending == []  # the second re-ask went with the win


async def test_intro_outcome_lists_intros_and_a_pick_moves_the_stage(stack: LocalStack) -> None:
    assert stack.slack is not None and stack.services is not None
    await intro_made(stack)
    await stack.slack.command(
        payloads.slash_command(
            REQUESTER,
            "outcome",
            stack.fake.issue_trigger_id(REQUESTER),
            response_url=stack.fake.response_url(),
        )
    )
    await stack.until(lambda: len(stack.fake.responses) == 1, "the list")
    listed = stack.fake.responses[0]["body"]
    assert "Where do your intros stand?" in listed["text"]
    [menu] = [b["accessory"] for b in listed["blocks"] if "accessory" in b]
    options = {o["text"]["text"]: o for o in menu["options"]}
    assert list(options) == [
        "Meeting held",
        "Opportunity",
        "Closed-won",
        "Closed-lost",
        "No response",
        "Not a fit",
    ]
    before = len(texts(stack, CONNECTOR))
    await stack.slack.interaction(
        payloads.block_action(
            REQUESTER,
            menu["action_id"],
            "",
            stack.fake.issue_trigger_id(REQUESTER),
            on_home=True,
            selected_option=options["Opportunity"],
        )
    )
    await stack.until(lambda: len(texts(stack, CONNECTOR)) == before + 1, "thanks")
    assert "is now an opportunity" in texts(stack, CONNECTOR)[-1]
    # From the Home tab, the tab is published again with what may come next.
    await stack.until(lambda: stack.fake.count("views.publish") >= 1, "home")
    home = stack.fake.calls_to("views.publish")[-1].args["view"]
    menus = [b["accessory"] for b in home["blocks"] if b.get("accessory", {}).get("options")]
    assert [o["text"]["text"] for o in menus[0]["options"]] == ["Closed-won", "Closed-lost"]
    # Someone with no intro for that name hears so.
    await stack.slack.command(
        payloads.slash_command(
            REQUESTER,
            "outcome Bob",
            stack.fake.issue_trigger_id(REQUESTER),
            response_url=stack.fake.response_url(),
        )
    )
    await stack.until(lambda: len(stack.fake.responses) == 2, "the empty list")
    assert "None of your intros to someone called *Bob*" in stack.fake.responses[1]["body"]["text"]


async def test_no_response_offers_a_secondary_intro_and_the_bump_reaches_the_connector(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    # Olivia introduced someone at Acme before: the second voice.
    earlier = await stack.services.workflow.submit(
        TEAM,
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
        await stack.services.workflow.act(TEAM, earlier.request.id, OTHER, action)
    await stack.services.dispatcher.sweep()

    card = await intro_made(stack)
    # Olivia's name as her stored profile has it, which the offer reads instead of users.info.
    assert stack.slack is not None
    await stack.slack.event(payloads.user_change(OTHER, deleted=False, real_name="Olivia Park"))
    for _ in range(500):
        if await stack.services.profiles.known(TEAM, [OTHER]):
            break
        await asyncio.sleep(0.01)
    before = len(texts(stack, CONNECTOR))
    await press(stack, REQUESTER, card, "intro_outcome_no_response")
    await stack.until(lambda: "went quiet" in texts(stack, REQUESTER)[-1], "the offer")
    offer = stack.fake.messages_for(REQUESTER)[-1]
    assert "*a nudge* from <@U0CONNECTOR>, the same voice once more" in offer["text"]
    assert "*a second voice*: a teammate who also knows Jane" in offer["text"]
    assert (
        button(offer, "intro_secondary_ask_1")["text"]["text"] == "Ask Olivia Park to add a voice"
    )
    assert OTHER not in [call.args.get("user") for call in stack.fake.calls_to("users.info")]
    assert button(offer, "intro_secondary_bump")["text"]["text"] == "Ask Carlos to nudge Jane"
    assert button(offer, "intro_secondary_leave")["text"]["text"] == "Leave it"
    await stack.services.work.drain()
    assert len(texts(stack, CONNECTOR)) == before  # "no response" thanks nobody

    # The other voice: the form opens prefilled for Olivia, linked to the quiet intro.
    await press(stack, REQUESTER, offer, "intro_secondary_ask_1")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "prefilled modal")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    values = {
        b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
        for b in view["blocks"]
        if b.get("type") == "input" and b["block_id"] not in SELECTS
    }
    assert values[f"connector:{OTHER}"] == OTHER and values["target_name"] == "Jane Doe"
    olivia = len(stack.fake.messages_for(OTHER))
    assert await submit(stack, view, values) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(OTHER)) > olivia, "Olivia's card")
    second, first = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[:2]
    assert (second.connector_id, second.previous_request_id) == (OTHER, first.id)
    assert first.status == Status.NO_RESPONSE

    # And Carlos's nudge: a message to forward, in his voice.
    await press(stack, REQUESTER, offer, "intro_secondary_bump")
    await stack.until(lambda: len(texts(stack, CONNECTOR)) == before + 1, "the bump")
    bump = stack.fake.messages_for(CONNECTOR)[-1]
    assert "hasn't heard back from *Jane Doe* since your intro" in bump["text"]
    pasted = card_text(bump)
    assert "Hi Jane," in pasted and "Riya Patel" in pasted and "Carlos" in pasted
    await stack.until(
        lambda: (
            [m for m in stack.fake.messages_for(REQUESTER) if m["ts"] == offer["ts"]][0]["updates"]
            == 1
        ),
        "offer updated",
    )
    offer_now = [m for m in stack.fake.messages_for(REQUESTER) if m["ts"] == offer["ts"]][0]
    assert "I sent <@U0CONNECTOR> a short nudge" in offer_now["text"]
    assert "intro_secondary_bump" not in str(offer_now["blocks"])
    # A second press sends nothing more.
    await press(stack, REQUESTER, offer, "intro_secondary_bump")
    await stack.services.work.drain()
    assert len(texts(stack, CONNECTOR)) == before + 1


def action_ids(message: dict) -> list[str]:
    return [
        element["action_id"]
        for block in message["blocks"]
        for element in block.get("elements", [])
        if "action_id" in element
    ]


async def test_leave_it_sends_nothing_and_says_how_to_report_a_late_answer(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    card = await intro_made(stack)
    await press(stack, REQUESTER, card, "intro_outcome_no_response")
    await stack.until(lambda: "went quiet" in texts(stack, REQUESTER)[-1], "the offer")
    offer = stack.fake.messages_for(REQUESTER)[-1]
    # Nobody else is known to know Jane: the connector's nudge is the second voice offered.
    assert "ask a teammate" not in offer["text"]
    assert "intro_secondary_ask_1" not in str(offer["blocks"])
    await stack.services.work.drain()
    connector_messages = len(texts(stack, CONNECTOR))
    await press(stack, REQUESTER, offer, "intro_secondary_leave")
    await stack.until(
        lambda: stack.fake.messages_for(REQUESTER)[-1]["updates"] == 1, "offer replaced"
    )
    left = stack.fake.messages_for(REQUESTER)[-1]
    assert left["text"].startswith("Left as it is.")
    assert "intro_secondary" not in str(left["blocks"])
    await stack.services.work.drain()
    assert len(texts(stack, CONNECTOR)) == connector_messages
    # Someone else pressing it is told it isn't theirs.
    await press(stack, OTHER, offer, "intro_secondary_bump")
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") == 1, "refusal")
    await stack.services.work.drain()
    assert len(texts(stack, CONNECTOR)) == connector_messages


async def test_a_stage_no_card_offers_changes_nothing_and_says_the_button_is_out_of_date(
    stack: LocalStack,
) -> None:
    assert stack.slack is not None
    card = await intro_made(stack)
    request_id = int(button(card, "intro_outcome_meeting_held")["value"].partition(":")[0])
    payload = payloads.block_action(
        REQUESTER,
        "intro_outcome_signed",
        f"{request_id}:signed",
        stack.fake.issue_trigger_id(REQUESTER),
        channel_id=card.get("channel"),
        message_ts=card.get("ts"),
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200
    await stack.until(lambda: len(stack.fake.ephemerals) == 1, "a private note")
    assert stack.fake.ephemerals[0]["text"] == "That button is out of date, so nothing changed."
    assert stack.services is not None
    request = await stack.services.workflow.get(TEAM, request_id)
    assert request is not None and request.status == Status.INTRO_MADE


async def test_after_an_outcome_the_requester_thanks_the_connector_in_their_own_words(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.slack is not None
    card = await intro_made(stack)
    await press(stack, REQUESTER, card, "intro_outcome_meeting_held")
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") == 1, "the thanks offer")
    offer = stack.fake.calls_to("chat.postEphemeral")[0].args
    assert offer["user"] == REQUESTER and f"I've told <@{CONNECTOR}> how it went" in offer["text"]
    # introbot's own words said what happened; none of them thanked on the requester's behalf.
    assert "thank" not in texts(stack, CONNECTOR)[-1].lower()
    pressed = {"blocks": offer["blocks"], "channel": offer["channel"], "ts": ""}
    opened = stack.fake.count("views.open")
    await press(stack, REQUESTER, pressed, "intro_thank_connector")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "the thanks form")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    [field] = [b for b in modal["blocks"] if b.get("block_id") == "thanks"]
    assert field["element"]["initial_value"].startswith("Thank you for the intro to Jane")
    mine = "Jane and I hit it off: a pilot is on the table. Thank you for vouching for me."
    await stack.slack.interaction(payloads.view_submission(REQUESTER, modal, {"thanks": mine}))
    await stack.until(lambda: "A note from" in texts(stack, CONNECTOR)[-1], "the note")
    note = stack.fake.messages_for(CONNECTOR)[-1]
    assert f"A note from <@{REQUESTER}> about your intro to *Jane Doe*" in card_text(note)
    assert f">{mine}" in card_text(note)

    # Each stage reported offers it again: a later stage is news of its own.
    await press(stack, REQUESTER, stack.fake.messages_for(REQUESTER)[0], "intro_outcome_not_a_fit")
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") == 2, "offered again")


async def test_after_mention_my_name_the_requester_says_what_came_of_it(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None and stack.slack is not None
    card = await request_intro(stack)
    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, card, "intro_mention_name")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "how they know her")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    await stack.slack.interaction(payloads.view_submission(CONNECTOR, modal, {"how_known": ""}))
    await stack.until(
        lambda: any("reach out directly" in t for t in texts(stack, REQUESTER)), "the note"
    )
    [notice] = [m for m in stack.fake.messages_for(REQUESTER) if "reach out" in m["text"]]
    assert f"I'll let <@{CONNECTOR}> know" in card_text(notice)
    button(notice, "intro_outcome_meeting_held")
    await stack.services.work.drain()

    # A week on, if they haven't said, they are asked.
    clock.advance(timedelta(days=8))
    await stack.services.dispatcher.sweep()
    ask = stack.fake.messages_for(REQUESTER)[-1]
    assert f"with <@{CONNECTOR}>'s name?" in ask["text"]
    before = len(texts(stack, CONNECTOR))
    await press(stack, REQUESTER, ask, "intro_outcome_meeting_held")
    await stack.until(lambda: len(texts(stack, CONNECTOR)) > before, "the connector told")
    told = texts(stack, CONNECTOR)[-1]
    assert told == f":handshake: <@{REQUESTER}> met *Jane Doe* after reaching out with your name."
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") == 1, "thanks offered")
    offer = stack.fake.calls_to("chat.postEphemeral")[0].args
    pressed = {"blocks": offer["blocks"], "channel": offer["channel"], "ts": ""}
    opened = stack.fake.count("views.open")
    await press(stack, REQUESTER, pressed, "intro_thank_connector")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "the thanks form")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    assert "Thank you for letting me use your name with Jane" in json.dumps(modal)
    request = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[0]
    assert request.status == Status.MEETING_HELD and request.intro_made_at is None
    # Beside the funnel: a name lent, not an intro made nor a meeting from one.
    report = await stack.services.attribution.report(TEAM)
    counts = report.workspace.counts
    assert (counts["name_mentioned"], counts["intro_made"], counts["meeting"]) == (1, 0, 0)
