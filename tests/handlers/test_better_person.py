""" "Not Jane: talk to Bob Lee": a connector points the requester to a better person than the
one they asked for, and the requester asks the same connector for that intro instead."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from sqlalchemy import update

from bot.intro.contacts import ContactInput
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import Contact
from tests.handlers.flow import (
    CONNECTOR,
    REQUESTER,
    SECOND,
    SELECTS,
    button,
    card_text,
    press,
    request_intro,
)

TEAM = "T0FAKE"
BOB = {
    "person_name": "Bob Lee",
    "person_title": "Procurement lead",
    "person_company": "Acme",
    "note": "Bob signs off every logistics vendor at Acme; Jane would pass it to him anyway.",
}


async def _suggest(stack: LocalStack, values: dict[str, str]) -> str:
    """The connector opens "Suggest someone else" on their card and submits `values`."""
    assert stack.slack is not None
    before = stack.fake.count("views.open")
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_redirect")
    await stack.until(lambda: stack.fake.count("views.open") > before, "suggest modal")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    _, body = await stack.slack.interaction(payloads.view_submission(CONNECTOR, view, values))
    return body


def _initial_values(view: dict[str, Any]) -> dict[str, Any]:
    return {
        b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
        for b in view["blocks"]
        if b.get("type") == "input" and b["block_id"] not in SELECTS
    }


async def test_a_better_person_is_asked_for_through_the_same_connector(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.slack is not None
    await request_intro(stack)
    body = await _suggest(stack, BOB)
    assert body == ""

    # The requester hears who, why, and can ask the same connector for that intro.
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "notice")
    notice = stack.fake.messages_for(REQUESTER)[-1]
    text = card_text(notice)
    assert (
        f"<@{CONNECTOR}> thinks *Bob Lee* (Procurement lead, Acme) is a better person for you"
        " to talk to than *Jane Doe*, and can introduce you instead." in text
    )
    assert "Why: _Bob signs off every logistics vendor at Acme" in text
    ask = button(notice, "intro_ask_person")
    assert ask["text"]["text"] == "Ask Carlos to introduce Bob"
    assert stack.fake.messages_for(SECOND) == []

    # The first ask closes, redirected to another person; both cards say so.
    first = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[0]
    assert (first.status, first.suggested_name, first.suggested_title) == (
        "redirected_to_person",
        "Bob Lee",
        "Procurement lead",
    )
    await stack.until(
        lambda: (
            "You pointed them to Bob Lee instead."
            in card_text(stack.fake.messages_for(CONNECTOR)[0])
        ),
        "connector card closed",
    )
    assert all(b["type"] != "actions" for b in stack.fake.messages_for(CONNECTOR)[0]["blocks"])
    await stack.until(
        lambda: (
            "suggests talking to Bob Lee instead of Jane Doe, and can introduce you."
            in card_text(stack.fake.messages_for(REQUESTER)[0])
        ),
        "requester card",
    )

    # "Ask Carlos to introduce Bob": the form, prefilled for Bob with the same connector.
    opened_before = stack.fake.count("views.open")
    await press(stack, REQUESTER, notice, "intro_ask_person")
    await stack.until(lambda: stack.fake.count("views.open") > opened_before, "form")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    values = _initial_values(view)
    assert values[f"connector:{CONNECTOR}"] == CONNECTOR
    assert (values["target_name"], values["target_company"]) == ("Bob Lee", "Acme")
    assert values["blurb"].startswith("Hi Bob, I'm Riya")
    assert "Jane" not in values["blurb"]
    assert "suggested a better person to talk to than Jane Doe" in json.dumps(view)
    _, body = await stack.slack.interaction(payloads.view_submission(REQUESTER, view, values))
    assert body == ""

    # Carlos's card for the new ask says it is the one he pointed to.
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 2, "new card")
    card = stack.fake.messages_for(CONNECTOR)[-1]
    assert (
        f"You pointed <@{REQUESTER}> to Bob Lee instead of Jane Doe, and they took you up on it."
        in card_text(card)
    )
    assert "an intro to *Bob Lee* at *Acme*" in card_text(card)
    second, first = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[:2]
    assert second.previous_request_id == first.id and second.target_name == "Bob Lee"

    # One account, two paths: requested once, the better person counted beside it.
    report = await stack.services.attribution.report(TEAM)
    assert report.workspace.counts["requested"] == 1
    assert report.workspace.counts["better_person"] == 1
    assert report.by_connector[CONNECTOR].counts["requested"] == 2
    export = list(
        csv.DictReader(io.StringIO(await stack.services.attribution.export_csv(TEAM, {})))
    )
    assert [(row["First Name"], row["Approach"], row["Previous Request ID"]) for row in export] == [
        ("Jane", "warm", ""),
        ("Bob", "better person", str(first.id)),
    ]


async def test_the_suggestion_names_one_teammate_or_one_other_person(stack: LocalStack) -> None:
    await request_intro(stack)
    nothing = await _suggest(stack, {})
    assert "Pick a teammate, or name a better person to talk to." in nothing
    both = await _suggest(stack, {**BOB, "suggested_user": SECOND})
    assert "One suggestion at a time" in both
    herself = await _suggest(stack, {**BOB, "person_name": "jane doe"})
    assert "That's Jane Doe, who they asked for." in herself
    assert stack.services is not None
    request = (await stack.services.workflow.requests_by(TEAM, REQUESTER))[0]
    assert request.status == "awaiting_connector"
    assert len(stack.fake.messages_for(REQUESTER)) == 1  # nothing sent to them


async def test_confirming_an_old_tie_keeps_the_word_of_the_pointer(stack: LocalStack) -> None:
    """Carlos's card for Bob asks whether he is still in touch with Bob; answering it leaves
    the line saying whom he pointed Riya away from."""
    assert stack.services is not None and stack.slack is not None
    await stack.services.directory.add_contact(
        TEAM, CONNECTOR, ContactInput("Bob Lee", "Acme", since=date(2018, 1, 1))
    )
    async with stack.services.sessions.begin() as session:  # recorded long ago, not since
        await session.execute(update(Contact).values(confirmed_at=None))
    await request_intro(stack)
    await _suggest(stack, BOB)
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "notice")
    opened = stack.fake.count("views.open")
    await press(stack, REQUESTER, stack.fake.messages_for(REQUESTER)[-1], "intro_ask_person")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "form")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    await stack.slack.interaction(payloads.view_submission(REQUESTER, view, _initial_values(view)))
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 2, "new card")
    card = stack.fake.messages_for(CONNECTOR)[-1]
    assert "Still in touch?" in card_text(card)
    await press(stack, CONNECTOR, card, "intro_tie_yes")
    await stack.until(
        lambda: "Still in touch?" not in card_text(stack.fake.messages_for(CONNECTOR)[-1]),
        "answered",
    )
    assert "You pointed <@U0REQUESTER> to Bob Lee instead of Jane Doe" in card_text(
        stack.fake.messages_for(CONNECTOR)[-1]
    )
