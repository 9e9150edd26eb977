"""How a tie counts: a LinkedIn connection is not knowing someone, and a tie that lapsed says
so, on the form's suggestions and on the connector's card."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from bot.intro.contacts import ContactInput
from bot.intro.directory import CONNECTED, KNOWN, LAPSED
from bot.intro.linkedin import Connection, ParsedExport
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import Contact
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    SECOND,
    card_text,
    open_intro_modal,
    press,
    request_intro,
)

TEAM = "T0FAKE"


async def _linkedin(stack: LocalStack, owner: str, connected_on: date) -> None:
    """`owner` imported their LinkedIn connections, Jane Doe at Acme among them."""
    assert stack.services is not None
    export = ParsedExport([Connection("Jane Doe", "Acme", "VP Ops", "", connected_on, "")])
    await stack.services.directory.import_connections(TEAM, owner, export)


async def _suggestion_lines(stack: LocalStack) -> list[str]:
    """The suggestions the form shows for Jane Doe at Acme, best first."""
    before = stack.fake.count("views.update")
    await open_intro_modal(stack, text="Jane Doe (Acme)")
    await stack.until(lambda: stack.fake.count("views.update") > before, "suggestions")
    view = stack.fake.calls_to("views.update")[-1].args["view"]
    return [
        block["text"]["text"]
        for block in view["blocks"]
        if str(block.get("block_id", "")).startswith("suggestion_")
    ]


async def test_a_declared_tie_ranks_above_a_recent_linkedin_connection(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    # Other has known Jane well for ten years; Sam connected with her on LinkedIn last month.
    await directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="know_well", since=date(2016, 3, 1))
    )
    await _linkedin(stack, SECOND, date(2026, 11, 2))

    # Neither shares how well they know people: the form shows only who, in order.
    lines = await _suggestion_lines(stack)
    assert lines == [f"1. <@{OTHER}>", f"2. <@{SECOND}>"]

    # Both share: the form says which is a relationship and which a connection.
    await directory.set_share_tie_details(TEAM, OTHER, True)
    await directory.set_share_tie_details(TEAM, SECOND, True)
    lines = await _suggestion_lines(stack)
    assert lines[0].startswith(f"1. <@{OTHER}> · knows them well · since 2016 · 0 open asks")
    assert lines[1].startswith(f"2. <@{SECOND}> · connected on LinkedIn since 2026 · 0 open")
    assert "knows" not in lines[1]


async def test_vouching_for_an_imported_tie_makes_it_a_relationship(stack: LocalStack) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    await _linkedin(stack, CONNECTOR, date(2019, 6, 1))
    (found,) = await directory.suggest_connectors(TEAM, "Jane Doe", "Acme")
    assert (found.user_id, found.tie) == (CONNECTOR, CONNECTED)

    card = await request_intro(stack)
    assert "*Would Jane Doe take your call?*" in card_text(card)
    await _pick(stack, card, "well")
    await stack.until(lambda: stack.fake.count("chat.update") >= 1, "card refreshed")
    (found,) = await directory.suggest_connectors(TEAM, "Jane Doe", "Acme")
    assert (found.tie, found.closeness) == (KNOWN, "know_well")


async def _pick(stack: LocalStack, message: dict, answer: str) -> None:
    assert stack.slack is not None
    block = next(b for b in message["blocks"] if b.get("block_id") == "qualify")
    option = next(o for o in block["accessory"]["options"] if o["value"].endswith(f":{answer}"))
    payload = payloads.block_action(
        CONNECTOR,
        "intro_qualify",
        "",
        stack.fake.issue_trigger_id(CONNECTOR),
        channel_id=message.get("channel"),
        message_ts=message.get("ts"),
        selected_option=option,
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200


def _buttons(card: dict) -> list[tuple[str, str | None, str]]:
    """The card's answer buttons: (action id, style, words), in their order."""
    block = next(b for b in card["blocks"] if b.get("block_id") == "connector_actions")
    return [(e["action_id"], e.get("style"), e["text"]["text"]) for e in block["elements"]]


async def test_not_in_touch_any_more_advises_declining_or_suggesting_and_lapses_the_tie(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    await directory.add_contact(
        TEAM, CONNECTOR, ContactInput("Jane Doe", "Acme", closeness="close", since=date(2018, 1, 1))
    )
    async with stack.services.sessions.begin() as session:  # recorded long ago, not since
        await session.execute(update(Contact).values(confirmed_at=None))
    await _linkedin(stack, OTHER, date(2024, 2, 1))
    before = await directory.suggest_connectors(TEAM, "Jane Doe", "Acme")
    assert [s.user_id for s in before] == [CONNECTOR, OTHER]

    card = await request_intro(stack)
    assert _buttons(card)[0] == ("intro_accept", "primary", "Accept")
    assert "Still in touch?" in card_text(card)
    await press(stack, CONNECTOR, card, "intro_tie_no")
    await stack.until(
        lambda: "may not land" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "the advice"
    )
    card = stack.fake.messages_for(CONNECTOR)[0]
    text = card_text(card)
    assert "Still in touch?" not in text
    assert f"a better person than Jane Doe for <@{REQUESTER}> to talk to" in text
    # Accept stays on offer, but suggesting someone else is the button to press.
    assert _buttons(card)[:3] == [
        ("intro_redirect", "primary", "Suggest someone else"),
        ("intro_decline", None, "Decline"),
        ("intro_accept", None, "Accept anyway"),
    ]
    request = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[0]
    assert request.connector_closeness == "not_really"

    # The tie is recorded as lapsed: it ranks below a mere connection, and says so if shared.
    tie = await directory.tie(TEAM, CONNECTOR, "Jane Doe", "Acme")
    assert tie is not None and tie.lapsed_at is not None and tie.closeness == "not_sure"
    after = await directory.suggest_connectors(TEAM, "Jane Doe", "Acme")
    assert [(s.user_id, s.tie) for s in after] == [(OTHER, CONNECTED), (CONNECTOR, LAPSED)]
    await directory.set_share_tie_details(TEAM, CONNECTOR, True)
    lines = await _suggestion_lines(stack)
    assert lines[1].startswith(f"2. <@{CONNECTOR}> · no longer in touch · 1 open ask")

    # Thinking again ("Yes, they would") brings the tie back.
    await _pick(stack, card, "well")
    await stack.until(
        lambda: "may not land" not in card_text(stack.fake.messages_for(CONNECTOR)[0]), "back"
    )
    assert _buttons(stack.fake.messages_for(CONNECTOR)[0])[0][:2] == ("intro_accept", "primary")
    tie = await directory.tie(TEAM, CONNECTOR, "Jane Doe", "Acme")
    assert tie is not None and tie.lapsed_at is None and tie.closeness == "know_well"


async def test_would_they_take_your_call_not_really_lapses_the_tie(stack: LocalStack) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    card = await request_intro(stack)  # no tie on record: the answer starts one
    await _pick(stack, card, "not_really")
    await stack.until(
        lambda: "may not land" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "the advice"
    )
    assert _buttons(stack.fake.messages_for(CONNECTOR)[0])[0][:2] == ("intro_redirect", "primary")
    tie = await directory.tie(TEAM, CONNECTOR, "Jane Doe", "Acme")
    assert tie is not None and tie.lapsed_at is not None


async def test_an_old_linkedin_connection_is_asked_about_as_one(stack: LocalStack) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    await _linkedin(stack, CONNECTOR, date(2021, 3, 4))
    card = await request_intro(stack)
    assert (
        "You're connected with *Jane Doe* on LinkedIn since 2021, which isn't the same as "
        "knowing them. Still in touch?" in card_text(card)
    )
    await press(stack, CONNECTOR, card, "intro_tie_yes")
    await stack.until(
        lambda: "Still in touch?" not in card_text(stack.fake.messages_for(CONNECTOR)[0]), "asked"
    )
    (found,) = await directory.suggest_connectors(TEAM, "Jane Doe", "Acme")
    assert found.tie == KNOWN  # vouched for: a relationship now
