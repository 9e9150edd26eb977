"""A second voice after a target agreed to an intro and went quiet: offered as what it is,
the requester chooses whether the second connector may name the first, and the second
connector's card says what happened instead of reading like a first ask."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    SECOND,
    button,
    card_text,
    press,
    request_intro,
    submit,
)
from tests.handlers.test_outcome_stages import intro_made

TEAM = "T0FAKE"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def _olivia_knows_acme(stack: LocalStack) -> None:
    assert stack.services is not None
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


@pytest.mark.parametrize(
    ("choice", "named"),
    [("yes", f"<@{CONNECTOR}>"), ("no", "a teammate")],
    ids=["named", "unnamed"],
)
async def test_the_second_connectors_card_says_the_target_agreed_and_went_quiet(
    stack: LocalStack, clock: ManualClock, choice: str, named: str
) -> None:
    await _olivia_knows_acme(stack)
    card = await intro_made(stack)  # Monday 5 January
    clock.advance(timedelta(days=8))
    await press(stack, REQUESTER, card, "intro_outcome_no_response")
    await stack.until(
        lambda: "went quiet" in stack.fake.messages_for(REQUESTER)[-1]["text"], "offer"
    )
    offer = stack.fake.messages_for(REQUESTER)[-1]
    assert offer["text"].startswith(
        ":seedling: *Jane Doe* agreed to the intro, then went quiet. Two ways to get an "
        f"answer: *a nudge* from <@{CONNECTOR}>, the same voice once more"
    )

    await press(stack, REQUESTER, offer, "intro_secondary_ask_1")
    assert stack.services is not None
    await stack.until(lambda: stack.fake.count("views.open") == 2, "prefilled form")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    question = next(b for b in view["blocks"] if b.get("block_id") == "name_first_connector")
    assert question["label"]["text"] == "May they say Carlos made the first intro?"
    values = {
        b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
        for b in view["blocks"]
        if b.get("type") == "input" and b["element"]["type"] != "static_select"
    }
    values["name_first_connector"] = choice
    olivia = len(stack.fake.messages_for(OTHER))
    assert await submit(stack, view, values) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(OTHER)) > olivia, "Olivia's card")

    second_card = stack.fake.messages_for(OTHER)[-1]
    assert second_card["text"].startswith(
        f"<@{REQUESTER}> asks you to add a second voice with Jane Doe (Acme)"
    )
    heading = card_text(second_card).split("\n")[0]
    assert heading == (
        f":speech_balloon: <@{REQUESTER}> asks you to add a second voice with *Jane Doe* at "
        f"*Acme*. Jane agreed to an intro from {named} on Monday 5 January, then went quiet. "
        "Would you add your voice? A word from someone else who knows them often gets the answer."
    )
    assert "would like an intro to" not in card_text(second_card)
    assert "*To add your voice*, accept: as with any intro" in card_text(second_card)
    assert "*The intro email*, to send once" not in card_text(second_card)
    requests = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert requests[0].name_first_connector is (choice == "yes")
    # The nudge is still there, as the first connector's.
    assert button(offer, "intro_secondary_bump")["text"]["text"] == "Ask Carlos to nudge Jane"


async def test_asking_someone_else_after_a_decline_is_a_first_ask(stack: LocalStack) -> None:
    await request_intro(stack)
    assert stack.services is not None
    request = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[0]
    declined = await stack.services.workflow.act(TEAM, request.id, CONNECTOR, Action.DECLINE)
    await stack.services.dispatcher.deliver(declined.message_ids)
    await stack.until(
        lambda: "intro_ask_secondary" in str(stack.fake.messages_for(REQUESTER)[-1]), "dead end"
    )
    await press(stack, REQUESTER, stack.fake.messages_for(REQUESTER)[-1], "intro_ask_secondary")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "form")
    form = stack.fake.calls_to("views.open")[-1].args["view"]
    # Linked to the declined ask, but no one agreed and went quiet: no question about naming
    # a first connector.
    assert json.loads(form["private_metadata"])["r"] == request.id
    assert not [b for b in form["blocks"] if b.get("block_id") == "name_first_connector"]


async def test_asking_the_first_connector_again_is_no_second_voice(
    stack: LocalStack, clock: ManualClock
) -> None:
    await _olivia_knows_acme(stack)
    card = await intro_made(stack)
    clock.advance(timedelta(days=8))
    await press(stack, REQUESTER, card, "intro_outcome_no_response")
    await stack.until(
        lambda: "went quiet" in stack.fake.messages_for(REQUESTER)[-1]["text"], "offer"
    )
    offer = stack.fake.messages_for(REQUESTER)[-1]
    await press(stack, REQUESTER, offer, "intro_secondary_ask_1")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "prefilled form")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    values = {
        b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
        for b in view["blocks"]
        if b.get("type") == "input" and b["element"]["type"] != "static_select"
    }
    values[f"connector:{OTHER}"] = CONNECTOR
    before = len(stack.fake.messages_for(CONNECTOR))
    assert await submit(stack, view, values) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) > before, "his card")
    again = stack.fake.messages_for(CONNECTOR)[-1]
    assert "second voice" not in card_text(again)
