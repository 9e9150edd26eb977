"""The words each person reads, through the signed endpoint and the fake Slack: the form asks
what is in it for the target and how big the ask is; the opt-in ask says both, to the target,
without naming the requester; the connector edits their own line of the intro email after
Accept, and the email they copy carries it."""

from __future__ import annotations

import json
import re

from bot.intro.states import Status
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    GOOD_BLURB,
    REQUESTER,
    button,
    card_text,
    open_intro_modal,
    press,
    request_intro,
)

TEAM = "T0FAKE"
TITLE = "Head of Partnerships, Northwind"
EMAIL = "riya@northwind.test"
LINE = "You two should meet: Riya's team cut customs delays by a third for shippers like Acme."


def _block(message: dict, block_id: str) -> str:
    block = next(b for b in message["blocks"] if b.get("block_id") == block_id)
    return str(block["text"]["text"])


def _copyable(text: str) -> str:
    found = re.search(r"```(.*)```", text, re.DOTALL)
    assert found, text
    return found.group(1)


def _card(stack: LocalStack) -> dict:
    return stack.fake.messages_for(CONNECTOR)[0]


async def _accept(stack: LocalStack, **overrides: str) -> dict:
    stack.fake.add_user(REQUESTER, name="riya", real_name="Riya Patel", title=TITLE, email=EMAIL)
    card = await request_intro(stack, **overrides)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(
        lambda: any(b.get("block_id") == "optin_ask" for b in _card(stack)["blocks"]),
        "the card with the opt-in ask",
    )
    return _card(stack)


async def test_the_form_asks_what_is_in_it_for_them_and_the_size_of_the_ask(
    stack: LocalStack,
) -> None:
    view = await open_intro_modal(stack, text="Jane Doe")
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    reason = blocks["reason"]
    assert reason["label"]["text"] == "What's in it for them?"
    assert "Quoted to them word for word" in reason["hint"]["text"]
    size = blocks["ask_size"]["element"]
    assert size["initial_option"]["value"] == "call_15"
    assert [o["text"]["text"] for o in size["options"]] == [
        "A 15-minute call",
        "A 30-minute call",
        "An email exchange",
        "A meeting",
    ]
    described = blocks["anonymous_as"]
    assert described["optional"] is True
    assert "a colleague of mine" in described["hint"]["text"]


async def test_the_anonymous_ask_says_the_size_and_the_requesters_own_words_only(
    stack: LocalStack,
) -> None:
    card = await _accept(
        stack,
        ask_size="call_30",
        anonymous_as="someone on our partnerships team",
        reason="You're opening EU warehouses, and we cut customs delays by a third.",
    )
    ask = _copyable(_block(card, "optin_ask"))
    assert ask == (
        "Hi Jane, someone on our partnerships team asked me for an intro to you at Acme: "
        "they'd like a 30-minute call. What's in it for you, as they put it: \"You're opening "
        'EU warehouses, and we cut customs delays by a third." Would you be open to it? No '
        "worries at all if not: just say so and I'll leave it there."
    )
    assert "*The ask*\nA 30-minute call" in card_text(card)
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)  # type: ignore[union-attr]
    assert request.ask_size == "call_30"
    assert request.anonymous_as == "someone on our partnerships team"


async def test_the_connector_edits_the_intro_line_and_the_email_they_copy_carries_it(
    stack: LocalStack,
) -> None:
    card = await _accept(stack)
    email = _copyable(_block(card, "intro_email"))
    # Before any edit: the reason says "we solve", Riya's words, so the line vouches for her
    # note rather than putting them in Carlos's mouth; then the note without its "Hi Jane,".
    assert "You two should meet: I think Riya's note below is worth your time." in email
    assert email.count("Hi Jane,") == 1
    assert f"Riya's note:\n\n{GOOD_BLURB.removeprefix('Hi Jane, ')}" in email
    assert email.rstrip().endswith("Best,\nCarlos")

    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, card, "intro_edit_line")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "the line to edit")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    field = next(b for b in modal["blocks"] if b.get("block_id") == "intro_line")
    assert field["element"]["initial_value"].startswith("You two should meet: I think Riya's")

    assert stack.slack is not None
    status, body = await stack.slack.interaction(
        payloads.view_submission(CONNECTOR, modal, {"intro_line": f"  {LINE}  "})
    )
    assert status == 200 and body == ""
    await stack.until(lambda: LINE in _block(_card(stack), "intro_email"), "the card refreshed")
    email = _copyable(_block(_card(stack), "intro_email"))
    assert "worth your time" not in email
    assert email.index("this is Jane Doe at Acme.") < email.index(LINE) < email.index("Riya's")
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)  # type: ignore[union-attr]
    assert request.intro_line == LINE
    # Accepting stayed one click; the card still takes Jane's answer.
    assert button(_card(stack), "intro_target_agreed")


async def test_an_emptied_intro_line_leaves_the_email_going_straight_to_the_note(
    stack: LocalStack,
) -> None:
    card = await _accept(stack)
    await press(stack, CONNECTOR, card, "intro_edit_line")
    await stack.until(lambda: stack.fake.count("views.open") >= 2, "the line to edit")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    assert stack.slack is not None
    await stack.slack.interaction(payloads.view_submission(CONNECTOR, modal, {"intro_line": ""}))
    await stack.until(
        lambda: "You two should meet" not in _block(_card(stack), "intro_email"), "no line"
    )
    email = _copyable(_block(_card(stack), "intro_email"))
    assert "this is Jane Doe at Acme.\n\nRiya's note:" in email


async def test_the_line_cannot_be_edited_once_the_intro_is_made(stack: LocalStack) -> None:
    card = await _accept(stack)
    await press(stack, CONNECTOR, card, "intro_target_agreed")
    assert stack.services is not None
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 3, "intro made")
    await stack.services.work.drain()
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.status == Status.INTRO_MADE
    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, card, "intro_edit_line")  # the old card's button
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") >= 1, "the note")
    assert "out of date" in stack.fake.calls_to("chat.postEphemeral")[-1].args["text"]
    assert stack.fake.count("views.open") == opened


async def test_the_first_card_says_there_is_no_pressure_and_names_the_three_outs(
    stack: LocalStack,
) -> None:
    card = await request_intro(stack)
    text = card_text(card)
    assert "No pressure if it isn't a fit" in text
    assert "say no, point to a better person, or lend your name" in text
    # The requester's guess is theirs, not the target's.
    assert f"Your answer, not <@{REQUESTER}>'s guess, goes with Accept." in text
    assert "not their guess" not in json.dumps(card)


async def test_the_line_edited_from_the_home_tab_shows_there_and_in_the_dm(
    stack: LocalStack,
) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept", on_home=True)

    def home() -> dict:
        return dict(stack.fake.calls_to("views.publish")[-1].args["view"])

    await stack.until(
        lambda: (
            stack.fake.count("views.publish") >= 1
            and any(str(b.get("block_id", "")).startswith("home_email_") for b in home()["blocks"])
        ),
        "the Home tab with the email",
    )
    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, home(), "intro_edit_line", on_home=True)
    await stack.until(lambda: stack.fake.count("views.open") > opened, "the line to edit")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    assert stack.slack is not None
    await stack.slack.interaction(payloads.view_submission(CONNECTOR, modal, {"intro_line": LINE}))
    await stack.until(lambda: LINE in json.dumps(home()), "the Home tab again")
    await stack.until(lambda: LINE in _block(_card(stack), "intro_email"), "the DM too")
