"""The core flow end to end: /intro, submission, connector's answers, double opt-in."""

from __future__ import annotations

from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    card_text,
    open_intro_modal,
    press,
    request_intro,
)


async def test_slash_command_opens_modal_prefilled_with_target(stack: LocalStack) -> None:
    view = await open_intro_modal(stack, text="Jane Doe")
    target = next(b for b in view["blocks"] if b.get("block_id") == "target_name")
    assert target["element"]["initial_value"] == "Jane Doe"


async def test_whole_flow_to_intro_made(stack: LocalStack) -> None:
    card = await request_intro(stack)
    assert "Jane Doe" in card_text(card)
    assert "Subject: Intro: Riya Patel &lt;&gt; Jane Doe (Acme)" in card_text(card)
    requester_card = stack.fake.messages_for(REQUESTER)[0]
    assert "Waiting for" in card_text(requester_card)

    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    card = stack.fake.messages_for(CONNECTOR)[0]
    assert "over to you*: tell me what jane doe says" in card_text(card).lower()

    await press(stack, CONNECTOR, card, "intro_target_agreed")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 3, "intro notice")
    assert "made the intro" in card_text(stack.fake.messages_for(REQUESTER)[-1])
    await stack.until(
        lambda: "Intro made" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "card updated"
    )
    assert stack.fake.broadcast_mentions == []


async def test_only_the_connector_can_accept(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, OTHER, card, "intro_accept")
    # OTHER is not in the connector's DM, so the note reaches them in their own DM.
    await stack.until(lambda: len(stack.fake.messages_for(OTHER)) == 1, "note to OTHER")
    assert "Only <@U0CONNECTOR>" in stack.fake.messages_for(OTHER)[0]["text"]
    assert "Over to you*: Accept, decline" in card_text(stack.fake.messages_for(CONNECTOR)[0])
