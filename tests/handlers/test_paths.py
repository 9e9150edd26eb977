"""Paths after a no, through the signed endpoint and the fake Slack: Ask them, go in cold."""

from __future__ import annotations

import json

import pytest

from bot.intro.contacts import ContactInput
from bot.intro.states import IllegalTransition, Status
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    GOOD_BLURB,
    OTHER,
    REQUESTER,
    SELECTS,
    button,
    card_text,
    good_values,
    open_intro_modal,
    press,
    request_intro,
    submit,
)

TEAM = "T0FAKE"


async def test_a_decline_ends_with_ask_them_which_opens_the_form_for_a_linked_re_ask(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.slack is not None
    await stack.services.directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_decline")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "decline modal")
    decline_view = stack.fake.calls_to("views.open")[-1].args["view"]
    await stack.slack.interaction(
        payloads.view_submission(CONNECTOR, decline_view, {"reason": "Not close enough."})
    )
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "decline notice")
    notice = stack.fake.messages_for(REQUESTER)[-1]
    assert "can't make the intro" in card_text(notice) and f"<@{OTHER}>" in card_text(notice)
    ask_them = button(notice, "intro_ask_secondary_1")
    assert ask_them["text"]["text"] == "Ask them"
    button(notice, "intro_go_cold")
    # The notice's buttons are the requester's: anyone else is told so, and no form opens.
    before = len(stack.fake.messages_for(CONNECTOR))
    await press(stack, CONNECTOR, notice, "intro_ask_secondary_1")
    # Not a member of the requester's DM, so the note comes as a DM of the presser's own.
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) > before, "refusal")
    assert f"Only <@{REQUESTER}> can do that" in stack.fake.messages_for(CONNECTOR)[-1]["text"]
    assert stack.fake.count("views.open") == 2

    await press(stack, REQUESTER, notice, "intro_ask_secondary_1")
    await stack.until(lambda: stack.fake.count("views.open") == 3, "prefilled form")
    form = stack.fake.calls_to("views.open")[-1].args["view"]
    values = {
        b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
        for b in form["blocks"]
        if b.get("type") == "input" and b["block_id"] not in SELECTS
    }
    original = good_values()
    assert values == {
        f"connector:{OTHER}": OTHER,
        "target_name": original["target_name"],
        "target_company": original["target_company"],
        "reason": original["reason"],
        "blurb": original["blurb"],
        "anonymous_as": None,
        "target_role": None,  # a person was named: no role to ask for
    }
    status, body = await submit(stack, form, values)
    assert status == 200 and body == "", body  # no duplicate-ask error
    await stack.until(lambda: len(stack.fake.messages_for(OTHER)) == 1, "the second card")
    second, first = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert first.status == Status.CONNECTOR_DECLINED
    assert second.connector_id == OTHER and second.previous_request_id == first.id


async def test_with_no_warm_path_going_in_cold_shows_the_message_and_records_it(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.slack is not None
    await open_intro_modal(stack, text="Jane Doe (Acme)")
    await stack.until(lambda: stack.fake.count("views.update") == 1, "the no-warm-path hint")
    call = stack.fake.calls_to("views.update")[0]
    hinted = {**call.args["view"], "id": call.args["view_id"]}
    assert "No teammate is known to know them" in json.dumps(hinted)
    assert "Pick whoever you think does" not in json.dumps(hinted)
    cold = button(hinted, "intro_go_cold_form")
    typed = {k: v for k, v in good_values().items() if k not in ("connector", "closeness")}

    # Pressed before the note is written: the form says what is missing.
    await stack.slack.interaction(
        payloads.view_action(
            REQUESTER,
            hinted,
            {**cold, "block_id": "no_warm_path"},
            {**typed, "blurb": ""},
        )
    )
    await stack.until(lambda: stack.fake.count("views.update") == 2, "what is missing")
    assert "To go in cold, first fix the note" in json.dumps(
        stack.fake.calls_to("views.update")[1].args["view"]
    )
    assert await stack.services.workflow.requests_by(TEAM, REQUESTER) == []

    await stack.slack.interaction(
        payloads.view_action(REQUESTER, hinted, {**cold, "block_id": "no_warm_path"}, typed)
    )
    await stack.until(lambda: stack.fake.count("views.update") == 3, "the cold message")
    shown = stack.fake.calls_to("views.update")[2].args["view"]
    message = next(b for b in shown["blocks"] if b.get("block_id") == "cold_message")
    text = message["text"]["text"]
    assert "Subject: Jane, a 15-minute call about Acme?" in text
    assert "Would you be open to a 20-minute call" in text and "customs problem" in text
    # Their situation and what the requester brings, then who they are and the one ask,
    # which ends the message before the signature.
    assert text.index("customs problem") < text.index("I'm Riya") < text.index("20-minute call")
    assert "Why I'm writing" not in text
    assert "intro" not in text.lower()
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.status == Status.WENT_COLD and request.connector_id == ""
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "the DM")
    dm = stack.fake.messages_for(REQUESTER)[-1]
    assert GOOD_BLURB.split(",")[1].strip()[:20] in card_text(dm)

    # How it went is reported from that DM, as for an intro.
    await press(stack, REQUESTER, dm, "intro_outcome_meeting_held")
    await stack.services.work.drain()
    reported = await stack.services.workflow.get(TEAM, request.id)
    assert reported is not None
    assert (reported.status, reported.outcome) == (Status.MEETING_HELD, "meeting_held")


async def test_no_response_after_going_cold_offers_only_teammates_who_know_them(
    stack: LocalStack,
) -> None:
    """A cold approach has no connector: nobody to nudge, nobody to name."""
    assert stack.services is not None and stack.slack is not None
    await open_intro_modal(stack, text="Jane Doe (Acme)")
    await stack.until(lambda: stack.fake.count("views.update") == 1, "the no-warm-path hint")
    call = stack.fake.calls_to("views.update")[0]
    hinted = {**call.args["view"], "id": call.args["view_id"]}
    cold = button(hinted, "intro_go_cold_form")
    typed = {k: v for k, v in good_values().items() if k not in ("connector", "closeness")}
    await stack.slack.interaction(
        payloads.view_action(REQUESTER, hinted, {**cold, "block_id": "no_warm_path"}, typed)
    )
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "the cold DM")
    # Since then a teammate has said they know Jane.
    await stack.services.directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    cold_dm = stack.fake.messages_for(REQUESTER)[0]
    await press(stack, REQUESTER, cold_dm, "intro_outcome_no_response")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "the second voice")
    offer = stack.fake.messages_for(REQUESTER)[-1]
    text = card_text(offer)
    assert "hasn't answered your message" in text and "intro" not in text.lower()
    assert "<@>" not in json.dumps(offer) and "nudge" not in json.dumps(offer)
    assert button(offer, "intro_secondary_ask_1")["value"].endswith(OTHER)
    assert "intro_secondary_bump" not in json.dumps(offer)
    # The nudge is refused for a cold approach even if asked for with an old button.
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    with pytest.raises(IllegalTransition):
        await stack.services.workflow.send_bump(TEAM, request.id, REQUESTER)


async def test_no_response_after_going_cold_with_no_one_who_knows_them(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.slack is not None
    await open_intro_modal(stack, text="Jane Doe (Acme)")
    await stack.until(lambda: stack.fake.count("views.update") == 1, "the no-warm-path hint")
    call = stack.fake.calls_to("views.update")[0]
    hinted = {**call.args["view"], "id": call.args["view_id"]}
    cold = button(hinted, "intro_go_cold_form")
    typed = {k: v for k, v in good_values().items() if k not in ("connector", "closeness")}
    await stack.slack.interaction(
        payloads.view_action(REQUESTER, hinted, {**cold, "block_id": "no_warm_path"}, typed)
    )
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "the cold DM")
    cold_dm = stack.fake.messages_for(REQUESTER)[0]
    await press(stack, REQUESTER, cold_dm, "intro_outcome_no_response")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "the second voice")
    offer = stack.fake.messages_for(REQUESTER)[-1]
    assert "No one on the team is known to know Jane" in card_text(offer)
    assert [e["action_id"] for b in offer["blocks"] for e in b.get("elements", [])] == [
        "intro_ask_secondary",
        "intro_secondary_leave",
    ]
