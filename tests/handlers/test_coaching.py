"""The request form coaches a weak note and reason before they go, once: the suggestions
appear under their fields, and the requester may send the words as they are."""

from __future__ import annotations

import json

from bot.intro.contacts import ContactInput
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    card_text,
    good_values,
    open_intro_modal,
    submit,
    submit_coached,
)

WEAK_NOTE = (
    "Hi Jane, you are both cool people and should definitely meet, it would be great. "
    "Would you be open to a call?"
)


def _under(view: dict, field: str) -> list[str]:
    """The coaching shown right under a field: the context blocks that follow its input."""
    blocks = view["blocks"]
    at = next(i for i, b in enumerate(blocks) if b.get("block_id") == field)
    tips = []
    for block in blocks[at + 1 :]:
        if block.get("type") != "context":
            break
        tips += [element["text"] for element in block["elements"]]
    return tips


async def test_a_weak_note_and_reason_are_coached_in_the_form_and_nothing_is_sent(
    stack: LocalStack,
) -> None:
    view = await open_intro_modal(stack)
    coached = await submit_coached(
        stack, view, good_values(reason="you two should meet", blurb=WEAK_NOTE)
    )
    reason_tips = _under(coached, "reason")
    assert len(reason_tips) == 1
    assert "Say what Jane gets from talking to you" in reason_tips[0]
    assert "for teams like Acme's" in reason_tips[0]
    note_tips = _under(coached, "blurb")
    assert len(note_tips) == 3 and all(tip.startswith(":arrow_up: ") for tip in note_tips)
    joined = "\n".join(note_tips)
    assert "Start with who you are, so Jane knows who's asking: “I'm Riya Patel" in joined
    assert "Say what's in it for Jane" in joined
    assert "The note is 2 sentences" in joined
    assert "End on one clear ask" not in joined  # "Would you be open to a call?" is one
    assert "Send anyway" in json.dumps(coached["blocks"][0])
    # What was typed stays in the form.
    blurb = next(b for b in coached["blocks"] if b.get("block_id") == "blurb")
    assert blurb["element"]["initial_value"] == WEAK_NOTE
    assert stack.fake.count("chat.postMessage") == 0
    assert stack.services is not None
    assert await stack.services.workflow.requests_by("T0FAKE", REQUESTER) == []


async def test_after_seeing_the_coaching_once_the_same_words_are_sent_as_they_are(
    stack: LocalStack,
) -> None:
    values = good_values(reason="x", blurb=WEAK_NOTE)
    view = await open_intro_modal(stack)
    coached = await submit_coached(stack, view, values)
    status, body = await submit(stack, coached, values)
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "requester card")
    card = card_text(stack.fake.messages_for(CONNECTOR)[0])
    assert "cool people" in card
    # The coaching was seen in the form: the confirmation does not say it again.
    confirmation = card_text(stack.fake.messages_for(REQUESTER)[0])
    assert "Tips for next time" not in confirmation
    assert "who you are" not in confirmation


async def test_new_words_with_a_new_weakness_are_coached_again(stack: LocalStack) -> None:
    view = await open_intro_modal(stack)
    coached = await submit_coached(stack, view, good_values(reason="x"))
    assert _under(coached, "blurb") == []
    # The reason was fixed; the note lost its ask: that is new, so the form says so.
    no_ask = (
        "Hi Jane, I'm Riya, I run partnerships at Northwind. We help logistics teams like "
        "Acme's cut cross-border delays by a third. I think it is worth connecting."
    )
    again = await submit_coached(
        stack,
        coached,
        good_values(
            reason="We cut customs delays by a third for shippers like Acme.", blurb=no_ask
        ),
    )
    assert _under(again, "reason") == []
    assert any("End on one clear ask Jane can say yes to" in t for t in _under(again, "blurb"))
    assert stack.fake.count("chat.postMessage") == 0


async def test_hard_problems_stay_hard_after_the_coaching(stack: LocalStack) -> None:
    values = good_values(reason="x")
    view = await open_intro_modal(stack)
    coached = await submit_coached(stack, view, values)
    status, body = await submit(
        stack, coached, {**values, "target_name": " ", "target_company": ""}
    )
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert "Who would you like" in answer["errors"]["target_name"]
    assert stack.fake.count("chat.postMessage") == 0


async def test_a_good_note_goes_at_once(stack: LocalStack) -> None:
    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values())
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")


async def test_the_coached_form_keeps_who_knows_the_target(stack: LocalStack) -> None:
    assert stack.services is not None
    await stack.services.directory.add_contact(
        "T0FAKE", OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    await open_intro_modal(stack, text="Jane Doe (Acme)")
    await stack.until(lambda: stack.fake.count("views.update") == 1, "suggestions")
    call = stack.fake.calls_to("views.update")[0]
    shown = {**call.args["view"], "id": call.args["view_id"]}
    coached = await submit_coached(stack, shown, good_values(reason="x"))
    ids = [b.get("block_id") for b in coached["blocks"]]
    assert "suggestion_1" in ids
    assert (
        ids.index("suggestion_1") < ids.index("coach_intro") < ids.index(f"connector:{CONNECTOR}")
    )
    assert f"<@{OTHER}>" in json.dumps(coached)
