"""A connector outside the team, through the signed endpoint and the stand-in Slack: the
request form switches to its own form, the requester gets the ask to send (the connector's
out, the anonymous opt-in ask, the note), reports each answer from their card and its
reminders, and the funnel counts the connector by name."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.intro.clock import ManualClock
from bot.intro.states import Status
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    as_opened,
    button,
    card_text,
    good_values,
    open_intro_modal,
    press,
    submit,
)

TEAM = "T0FAKE"
DANA = {
    "outside_name": "Dana Cole",
    "outside_email": "Dana@Example.com",
    "outside_knows_target": "She sits on Acme's board",
    "outside_knows_them": "A happy customer since 2023",
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC: 10:00 in New York


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def sweep(stack: LocalStack) -> None:
    assert stack.services is not None
    await stack.services.work.drain()
    while await stack.services.dispatcher.sweep():
        pass


async def outside_form(stack: LocalStack, user: str = REQUESTER) -> dict:
    """The request form, switched to the one for a connector outside the team."""
    assert stack.slack is not None
    opened = await open_intro_modal(stack, user=user)
    form = as_opened(stack, opened)
    switch = button(form, "intro_outside_form")
    before = stack.fake.count("views.update")
    typed = {"target_name": "Jane Doe", "target_company": "Acme"}
    await stack.slack.interaction(
        payloads.view_action(user, form, {**switch, "block_id": "outside_switch"}, typed)
    )
    await stack.until(lambda: stack.fake.count("views.update") > before, "the outside form")
    call = stack.fake.calls_to("views.update")[-1]
    assert call.ok, call.error
    return {**call.args["view"], "id": call.args["view_id"]}


def outside_values(**overrides: str) -> dict[str, str]:
    values = {k: v for k, v in good_values().items() if k not in ("connector", "closeness")}
    return {**values, **DANA, **overrides}


async def ask_dana(stack: LocalStack, user: str = REQUESTER) -> dict:
    """Ask Dana, outside the team: the requester's card, with the ask to send."""
    form = await outside_form(stack, user)
    status, body = await submit(stack, form, outside_values(), user=user)
    assert status == 200 and body == "", body
    await stack.until(lambda: len(stack.fake.messages_for(user)) >= 1, "the requester's card")
    await stack.sends_recorded()
    return stack.fake.messages_for(user)[-1]


def everyone_messaged(stack: LocalStack) -> set[str]:
    """Whom the bot wrote to: the channels of chat.postMessage calls that went through."""
    return {str(c.args["channel"]) for c in stack.fake.calls_to("chat.postMessage") if c.ok}


def all_sent(stack: LocalStack) -> str:
    return json.dumps([c.args for c in stack.fake.calls_to("chat.postMessage")])


async def current(stack: LocalStack, message: dict) -> dict:
    """A message as it reads now, after the updates made to it."""
    await sweep(stack)
    return next(m for m in stack.fake.messages_for(REQUESTER) if m["ts"] == message["ts"])


async def test_the_form_carries_what_was_typed_to_the_outside_form(stack: LocalStack) -> None:
    form = await outside_form(stack)
    shown = json.dumps(form)
    assert form["callback_id"] == "intro_outside_modal"
    assert "Jane Doe" in shown and "Acme" in shown
    assert "How do they know the person?" in shown and "How do you know them?" in shown


async def test_the_requester_gets_the_ask_to_send_and_reports_each_step(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None
    card = await ask_dana(stack)
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.connector_outside and request.connector_id == ""
    assert request.connector_name == "Dana Cole" and request.connector_email == "dana@example.com"
    assert request.connector_knows_target == "She sits on Acme's board"
    assert request.requester_knows_connector == "A happy customer since 2023"
    assert request.status == Status.AWAITING_CONNECTOR

    text = card_text(card)
    assert "Your ask to *Dana Cole*, outside the team, for an intro to *Jane Doe*" in text
    assert "dana@example.com" in text
    email = next(b for b in card["blocks"] if b.get("block_id") == "outside_email")
    words = email["text"]["text"]
    assert "Subject: Would you introduce me to Jane Doe at Acme?" in words
    assert "Hi Dana," in words
    assert "No pressure at all: it's fine to say no, or to point me to someone better" in words
    # The opt-in ask Dana forwards names no one; the note for the intro comes after a yes.
    ask = words.split('"Hi Jane,')[1].split("If Jane says yes")[0]
    assert "someone I know asked me for an intro to you at Acme" in ask
    assert "customs problem" in ask and "Riya" not in ask and "Northwind" not in ask
    assert "I run partnerships at Northwind" in words.split("If Jane says yes")[1]
    assert "<@>" not in json.dumps(card)
    # Nothing went to anyone but the requester: Dana is not on Slack.
    assert everyone_messaged(stack) == {REQUESTER}

    # Two days on: has Dana answered?
    clock.advance(timedelta(days=2))
    await sweep(stack)
    reminder = [m for m in stack.fake.messages_for(REQUESTER) if "Has Dana answered" in m["text"]]
    assert len(reminder) == 1
    await press(stack, REQUESTER, reminder[0], "intro_outside_agreed")
    await sweep(stack)
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.status == Status.CHECKING_WITH_TARGET
    card = await current(stack, card)
    assert "Dana is checking with Jane" in card_text(card)
    assert not any(b.get("block_id") == "outside_email" for b in card["blocks"])

    clock.advance(timedelta(days=5))  # three working days on: has Jane answered Dana?
    await sweep(stack)
    checks = [m for m in stack.fake.messages_for(REQUESTER) if "heard back from" in m["text"]]
    assert checks, [m["text"] for m in stack.fake.messages_for(REQUESTER)]
    await press(stack, REQUESTER, checks[-1], "intro_outside_target_agreed")
    await sweep(stack)
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.status == Status.INTRO_MADE and request.intro_made_at is not None
    card = await current(stack, card)
    assert "Dana made the intro" in card_text(card)
    button(card, "intro_followed_up")

    # The same follow-up and outcome questions as any intro, about Dana by name.
    clock.advance(timedelta(days=8))
    await sweep(stack)
    outcome = [m for m in stack.fake.messages_for(REQUESTER) if "What came of" in m["text"]]
    assert outcome and "Dana doesn't hear from me" in outcome[-1]["text"]
    await press(stack, REQUESTER, outcome[-1], "intro_outcome_meeting_held")
    await sweep(stack)
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.status == Status.MEETING_HELD
    sent = all_sent(stack)
    assert "<@>" not in sent
    assert everyone_messaged(stack) == {REQUESTER}


async def test_a_connector_outside_who_says_no_closes_the_ask(stack: LocalStack) -> None:
    assert stack.services is not None
    card = await ask_dana(stack)
    await press(stack, REQUESTER, card, "intro_outside_declined")
    await sweep(stack)
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.status == Status.CONNECTOR_DECLINED
    card = await current(stack, card)
    assert "Dana can't make this one. Thank them" in card_text(card)
    assert "<@>" not in all_sent(stack)


async def test_only_the_requester_reports_the_outside_connectors_answers(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    card = await ask_dana(stack)
    await press(stack, OTHER, card, "intro_outside_agreed")
    await sweep(stack)
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.status == Status.AWAITING_CONNECTOR


async def test_the_same_ask_to_the_same_outside_connector_is_refused(stack: LocalStack) -> None:
    await ask_dana(stack)
    form = await outside_form(stack)
    status, body = await submit(stack, form, outside_values())
    assert status == 200
    assert "You already have an open ask for this person, with Dana Cole." in body

    # A teammate asking Dana about Jane too is told who asked first.
    form = await outside_form(stack, user=OTHER)
    status, body = await submit(stack, form, outside_values(), user=OTHER)
    assert "already asked Dana Cole about this person" in body


async def test_the_outside_form_says_what_is_missing(stack: LocalStack) -> None:
    form = await outside_form(stack)
    values = outside_values(outside_email="not an email", outside_knows_target="")
    status, body = await submit(stack, form, values)
    errors = json.loads(body)["errors"]
    assert errors["outside_email"] == "That doesn't look like an email address."
    assert "how they know this person" in errors["outside_knows_target"]
    assert "connector" not in errors


async def command(stack: LocalStack, user: str, text: str) -> str:
    """Run `/intro <text>` as `user`; the reply."""
    assert stack.slack is not None
    before = len(stack.fake.responses)
    payload = payloads.slash_command(
        user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
    )
    status, body = await stack.slack.command(payload)
    assert status == 200
    if body:
        return body
    await stack.until(lambda: len(stack.fake.responses) > before, "the reply")
    reply = stack.fake.responses[-1]["body"]
    return "\n".join([str(reply["text"]), card_text({"blocks": reply.get("blocks") or []})])


async def made_intro(stack: LocalStack) -> dict:
    card = await ask_dana(stack)
    await press(stack, REQUESTER, card, "intro_outside_agreed")
    card = await current(stack, card)
    await press(stack, REQUESTER, card, "intro_outside_target_agreed")
    return await current(stack, card)


async def test_the_funnel_and_the_export_count_the_outside_connector_by_name(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    card = await made_intro(stack)
    await press(stack, REQUESTER, card, "intro_outcome_meeting_held")
    await sweep(stack)

    stats = await command(stack, REQUESTER, "stats")
    assert "Dana Cole (outside the team): Requested *1*" in stats
    assert "Thanked most: Dana Cole (outside the team) (1)" in stats
    assert "<@>" not in stats and "outside:" not in stats

    exported = await stack.services.attribution.export_csv(TEAM, {})
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert row["Referred By"] == "Dana Cole" and row["Referred By Slack ID"] == ""
    assert row["Referred By Outside Team"] == "yes"
    assert row["Meeting Date"] != ""


async def test_the_home_tab_names_the_outside_connector(stack: LocalStack) -> None:
    assert stack.slack is not None
    await ask_dana(stack)
    before = stack.fake.count("views.publish")
    await stack.slack.event(payloads.app_home_opened(REQUESTER))
    await stack.until(lambda: stack.fake.count("views.publish") > before, "home")
    home = json.dumps(stack.fake.home_views[REQUESTER])
    assert "via Dana Cole, outside the team" in home
    assert "<@>" not in home


async def test_forget_me_erases_the_outside_connector_the_requester_named(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    await made_intro(stack)
    await command(stack, REQUESTER, "forget me")
    await stack.until(lambda: len(stack.fake.responses) >= 1, "confirmation")
    [request] = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert (request.connector_name, request.connector_email) == ("", "")
    assert (request.connector_knows_target, request.requester_knows_connector) == ("", "")
    # The funnel still counts the ask, as someone outside the team.
    stats = await command(stack, OTHER, "stats")
    assert "Someone (outside the team): Requested *1*" in stats


async def test_the_account_owner_approves_before_the_requester_gets_the_ask(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    await stack.services.directory.set_account_owner(TEAM, "Acme", OTHER)
    form = await outside_form(stack)
    status, body = await submit(stack, form, outside_values())
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(OTHER)) == 1, "the owner's card")
    owner_card = stack.fake.messages_for(OTHER)[0]
    assert "would like Dana Cole (outside the team) to introduce them" in card_text(owner_card)
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "their card")
    card = stack.fake.messages_for(REQUESTER)[0]
    assert not any(b.get("block_id") == "outside_email" for b in card["blocks"])

    await stack.sends_recorded()  # the owner reads the card before pressing
    await press(stack, OTHER, owner_card, "intro_owner_approve")
    await sweep(stack)
    notice = stack.fake.messages_for(REQUESTER)[-1]
    assert "the email to send Dana Cole is on your request's card" in notice["text"]
    card = await current(stack, card)
    assert any(b.get("block_id") == "outside_email" for b in card["blocks"])
    assert "<@>" not in all_sent(stack) and "<@>" not in json.dumps(card)


async def test_an_open_ask_outside_the_team_stops_a_second_ask_for_the_same_person(
    stack: LocalStack,
) -> None:
    await ask_dana(stack)
    form = await open_intro_modal(stack)
    status, body = await submit(stack, form, good_values())
    assert status == 200
    errors = json.loads(body)["errors"]
    assert errors["target_name"] == "You already have an open ask for this person with Dana Cole."


async def test_with_no_answer_from_the_outside_connector_the_requester_may_ask_someone_else(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None and stack.slack is not None
    card = await ask_dana(stack)
    clock.advance(timedelta(days=2))
    await sweep(stack)
    clock.advance(timedelta(days=2))  # Friday: the second, last "has Dana answered?"
    await sweep(stack)
    [last] = [m for m in stack.fake.messages_for(REQUESTER) if "Still no answer" in m["text"]]
    assert "Asking someone else withdraws this ask; let Dana know if you do." in last["text"]
    button(last, "intro_outside_agreed")  # Dana may have answered after all
    opened = stack.fake.count("views.open")
    await press(stack, REQUESTER, last, "intro_ask_secondary")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "the prefilled form")
    form = stack.fake.calls_to("views.open")[-1].args["view"]
    assert "Jane Doe" in json.dumps(form)
    status, body = await submit(stack, form, good_values())
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "Carlos's card")
    first, second = sorted(
        await stack.services.workflow.requests_by(TEAM, REQUESTER), key=lambda r: r.id
    )
    assert first.status == Status.REROUTED and first.connector_outside
    assert second.connector_id == CONNECTOR and second.previous_request_id == first.id
    card = await current(stack, card)
    assert "You asked someone else instead. If you'd sent the ask, let Dana know." in card_text(
        card
    )
