"""Modal submissions: inline validation, and what a good submission sets off."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.intro import validation
from bot.standin.stack import LocalStack
from storage.models import IntroRequest
from tests.handlers.flow import (
    CONNECTOR,
    REQUESTER,
    card_text,
    good_values,
    open_intro_modal,
    press,
    request_intro,
    request_intro_anyway,
    submit,
)


@pytest.mark.parametrize(
    ("overrides", "block", "words"),
    [
        ({"connector": REQUESTER}, "connector", "other than yourself"),
        ({"connector": "U0SOMEBOT"}, "connector", "bot"),
        ({"connector": "U0DEACTIVATED"}, "connector", "deactivated"),
        ({"target_name": "   ", "target_company": ""}, "target_name", "Who would you like"),
        ({"reason": ""}, "reason", "what's in it for them"),
        ({"blurb": ""}, "blurb", "forward"),
        ({"blurb": "Hi [Name], " + "x" * 100 + " Would you be open to a call?"}, "blurb", "[Name]"),
        ({"target_name": "J" * (validation.TARGET_NAME_MAX + 1)}, "target_name", "150"),
        ({"reason": "r" * (validation.REASON_MAX + 1)}, "reason", "500"),
        ({"anonymous_as": "a" * 201}, "anonymous_as", "How they may describe you is 201"),
    ],
)
async def test_invalid_submission_is_answered_inline_and_nothing_is_sent(
    stack: LocalStack, overrides: dict[str, str], block: str, words: str
) -> None:
    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values(**overrides))
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert words.casefold() in answer["errors"][block].casefold()
    assert stack.fake.count("chat.postMessage") == 0
    assert stack.services is not None
    assert await stack.services.workflow.requests_by("T0FAKE", REQUESTER) == []


async def test_connector_card_holds_the_forwardable_email(stack: LocalStack) -> None:
    card = await request_intro(stack)
    text = card_text(card)
    assert "*The intro email*, to send once Jane Doe says yes" in text
    assert "```Subject: Intro: Riya Patel &lt;&gt; Jane Doe (Acme)" in text
    assert "Would you be open to a 20-minute call" in text
    assert [b["action_id"] for b in card["blocks"][-1]["elements"]] == [
        "intro_accept",
        "intro_decline",
        "intro_redirect",
        "intro_mention_name",
    ]
    assert card["channel"] == stack.fake.dm_channel(CONNECTOR)


HOSTILE = "<!channel> <!here> <@U0OTHER> & \"quotes\" 'single' 🎉 مرحبا بالعالم <b>"


async def test_hostile_text_in_every_field_pings_nobody_and_breaks_nothing(
    stack: LocalStack,
) -> None:
    blurb = f"Hi Jane {HOSTILE}. I'm Riya. " + "Would you be open to a call? " * 40
    blurb = blurb[: validation.BLURB_MAX]
    card = await request_intro_anyway(
        stack,
        target_name=f"Jane {HOSTILE}"[: validation.TARGET_NAME_MAX],
        target_company=HOSTILE,
        reason=(HOSTILE * 20)[: validation.REASON_MAX],
        blurb=blurb,
    )
    text = card_text(card)
    assert "&lt;!channel&gt;" in text
    assert "<@U0OTHER>" not in text
    assert stack.fake.broadcast_mentions == []
    assert all(call.ok for call in stack.fake.calls), [
        (c.method, c.error) for c in stack.fake.calls if not c.ok
    ]
    requester_card = stack.fake.messages_for(REQUESTER)[0]
    assert "<!here>" not in json.dumps(requester_card)


async def test_a_request_that_cannot_be_saved_is_reported_with_the_note_to_paste(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form closed at the ack; if storing fails, the requester hears it and keeps the note."""
    assert stack.services is not None

    async def database_down(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT INTO intro_requests", {}, ConnectionError("gone"))

    monkeypatch.setattr(stack.services.workflow, "submit", database_down)
    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values())
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "the failure note")
    text = stack.fake.messages_for(REQUESTER)[0]["text"]
    assert "nothing was sent" in text and "Would you be open to a 20-minute call" in text
    assert stack.fake.messages_for(CONNECTOR) == []


async def test_work_that_fails_after_the_ack_is_reported_privately(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.services is not None
    card = await request_intro(stack)

    async def database_down(*_args: object, **_kwargs: object) -> None:
        await asyncio.sleep(0.1)  # a connection that times out, well after the ack
        raise OperationalError("UPDATE intro_requests", {}, ConnectionError("gone"))

    monkeypatch.setattr(stack.services.workflow, "act", database_down)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.ephemerals) == 1, "a private note")
    note = stack.fake.ephemerals[0]
    assert note["user"] == CONNECTOR and "didn't go through" in note["text"]


async def test_the_same_form_submitted_twice_at_once_makes_one_request(stack: LocalStack) -> None:
    """A double click, or the same submission reaching two replicas: both pass the "already
    asked" check before either is stored; the form's id keeps it to one request."""
    assert stack.services is not None
    view = {**await open_intro_modal(stack), "id": "V0DOUBLECLICK"}
    answers = await asyncio.gather(*(submit(stack, view, good_values()) for _ in range(2)))
    assert answers == [(200, ""), (200, "")]
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) >= 1, "the card")
    await stack.services.work.drain()
    async with stack.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(IntroRequest)) == 1
    assert len(stack.fake.messages_for(CONNECTOR)) == 1
