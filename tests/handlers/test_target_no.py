"""A target's no is final, through the signed endpoint and the stand-in Slack: the ask closes
with only a thank-you (in the requester's words), anyone's form for the person says when they
declined, strict pacing refuses the ask, and every other way back to them is refused while
the no holds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.intro.privacy import forget_me
from bot.intro.states import Status
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import OutboundMessage
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
SAID_NO = "said no to an intro"
HELD = "*Jane Doe* declined an intro on 5 January"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


def latest(stack: LocalStack, user: str, words: str) -> dict:
    return [m for m in stack.fake.messages_for(user) if words in card_text(m)][-1]


def has(stack: LocalStack, user: str, words: str) -> bool:
    return any(words in card_text(m) for m in stack.fake.messages_for(user))


async def jane_says_no(stack: LocalStack, connector: str = CONNECTOR, **values: str) -> dict:
    """Requester asks `connector` for Jane; they accept and report that Jane declined. Returns
    the requester's notice of it."""
    card = await request_intro(stack, connector=connector, **values)
    await press(stack, connector, card, "intro_accept")
    await stack.until(lambda: stack.fake.messages_for(connector)[-1]["updates"] >= 1, "card")
    await press(stack, connector, stack.fake.messages_for(connector)[-1], "intro_target_declined")
    await stack.until(lambda: has(stack, REQUESTER, SAID_NO), "the requester hears of it")
    return latest(stack, REQUESTER, SAID_NO)


def as_filled(view: dict) -> dict[str, str]:
    """The form's inputs as they were filled in (its initial values), by their block ids."""
    return {
        b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
        for b in view["blocks"]
        if b.get("type") == "input"
        and (b["element"].get("initial_value") or b["element"].get("initial_user"))
    }


async def form_for_jane(stack: LocalStack, user: str) -> dict:
    """`user` opens the form for Jane Doe; returns it as shown once the suggestions are in."""
    before = stack.fake.count("views.update")
    opened = await open_intro_modal(stack, user=user, text="Jane Doe (Acme)")
    await stack.until(lambda: stack.fake.count("views.update") > before, "the form's findings")
    call = stack.fake.calls_to("views.update")[-1]
    return {**opened, **call.args["view"], "id": call.args["view_id"]}


async def test_a_targets_no_closes_the_ask_with_only_the_requesters_thanks(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.slack is not None
    # A teammate knows Jane: after any other no, they would be offered as the next path.
    await stack.services.directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    notice = await jane_says_no(stack)
    text = card_text(notice)
    assert f"<@{CONNECTOR}> asked them for you" in text
    assert f"<@{OTHER}>" not in text and "Who else may know" not in text
    blocks = json.dumps(notice["blocks"])
    for way_back in ("intro_ask_secondary", "intro_go_cold", "intro_secondary_bump"):
        assert way_back not in blocks
    thank = button(notice, "intro_thank_connector")
    assert thank["text"]["text"] == "Thank Carlos"

    await press(stack, REQUESTER, notice, "intro_thank_connector")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "the thanks form")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    [field] = [b for b in modal["blocks"] if b.get("block_id") == "thanks"]
    prefilled = field["element"]["initial_value"]
    assert prefilled.startswith("Thank you for asking Jane for me, Carlos.")

    # Sent empty: the form asks for a line.
    status, body = await stack.slack.interaction(
        payloads.view_submission(REQUESTER, modal, {"thanks": "  "})
    )
    assert status == 200 and "Write a line for them" in body
    mine = "Carlos, thank you for going to bat for me with Jane. I owe you a coffee."
    status, body = await stack.slack.interaction(
        payloads.view_submission(REQUESTER, modal, {"thanks": mine})
    )
    assert status == 200 and "has your note" in body
    await stack.until(lambda: has(stack, CONNECTOR, "A note from"), "the connector's note")
    note = latest(stack, CONNECTOR, "A note from")
    assert f"A note from <@{REQUESTER}> about your ask to *Jane Doe*" in card_text(note)
    assert f">{mine}" in card_text(note)  # quoted: the requester's words, not introbot's

    # Sent twice (a double click): the connector hears it once.
    await stack.slack.interaction(payloads.view_submission(REQUESTER, modal, {"thanks": mine}))
    await stack.services.work.drain()
    assert sum("A note from" in card_text(m) for m in stack.fake.messages_for(CONNECTOR)) == 1

    # `/intro forget me` erases the requester's words, these too.
    await forget_me(stack.services.sessions, TEAM, REQUESTER)
    async with stack.services.sessions() as session:
        kept = await session.scalars(select(OutboundMessage.data))
        assert all(mine not in json.dumps(data) for data in kept)


async def test_anyones_form_for_the_person_says_when_they_declined_and_asks_first(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None
    await stack.services.directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    await jane_says_no(stack)
    clock.advance(timedelta(days=2))

    form = await form_for_jane(stack, SECOND)
    shown = json.dumps(form)
    assert HELD in shown and "respect that unless something has changed" in shown
    # Who asked is not said; nor is anyone offered as a way to her, warm or cold.
    assert REQUESTER not in shown and OTHER not in shown
    assert "intro_pick_connector" not in shown and "intro_go_cold_form" not in shown

    # Sent without having seen it (no Enter on the name): the form says it first.
    fresh = await open_intro_modal(stack, user=SECOND)
    status, body = await submit(stack, fresh, good_values(), user=SECOND)
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "update"
    again = answer["view"]
    assert HELD in json.dumps(again)
    assert await stack.services.workflow.requests_by(TEAM, SECOND) == []
    # Sent again, knowing: it goes.
    status, body = await submit(stack, again, as_filled(again), user=SECOND)
    assert status == 200 and body == "", body
    await stack.until(lambda: len(stack.fake.messages_for(SECOND)) >= 1, "their card")
    [request] = await stack.services.workflow.requests_by(TEAM, SECOND)
    assert request.status == Status.AWAITING_CONNECTOR

    # Once the hold has passed, the form no longer says it.
    clock.advance(timedelta(days=180))
    assert "declined an intro" not in json.dumps(await form_for_jane(stack, OTHER))


async def test_in_strict_pacing_an_ask_for_the_person_is_refused(stack: LocalStack) -> None:
    assert stack.services is not None
    await jane_says_no(stack)
    await stack.services.directory.set_enforce_pacing(TEAM, True)

    form = await form_for_jane(stack, SECOND)
    assert "This workspace keeps to a no until 4 July" in json.dumps(form)
    status, body = await submit(stack, form, good_values(), user=SECOND)
    errors = json.loads(body)["errors"]
    assert status == 200 and errors["target_name"].startswith("Jane Doe declined an intro on")
    assert "can't go before" in errors["target_name"]
    assert await stack.services.workflow.requests_by(TEAM, SECOND) == []


async def test_every_other_way_back_to_the_person_is_refused_while_the_no_holds(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    await stack.services.directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    # An earlier path to Jane ended with her connector passing: a dead end with ways on.
    card = await request_intro(stack, connector=SECOND)
    await press(stack, SECOND, card, "intro_decline")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "decline modal")
    decline_view = stack.fake.calls_to("views.open")[-1].args["view"]
    assert stack.slack is not None
    await stack.slack.interaction(payloads.view_submission(SECOND, decline_view, {"reason": ""}))
    await stack.until(lambda: has(stack, REQUESTER, "can't make the intro"), "dead end")
    dead_end = latest(stack, REQUESTER, "can't make the intro")
    # Then Jane says no to the requester's next ask.
    await jane_says_no(stack)
    opened = stack.fake.count("views.open")

    for way_back in ("intro_ask_secondary", "intro_go_cold"):
        before = stack.fake.count("chat.postEphemeral")
        await press(stack, REQUESTER, dead_end, way_back)
        await stack.until(
            lambda before=before: stack.fake.count("chat.postEphemeral") > before, "refusal"
        )
        refusal = stack.fake.calls_to("chat.postEphemeral")[-1].args["text"]
        assert refusal.startswith("*Jane Doe* declined an intro on 5 January")
        assert "won't offer another way to them before 4 July" in refusal
    assert stack.fake.count("views.open") == opened  # no form opened
    requests = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert [r.status for r in requests] == [Status.TARGET_DECLINED, Status.CONNECTOR_DECLINED]
