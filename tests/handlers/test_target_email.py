"""The target's email with "They agreed: intro made", through the signed endpoint and the
stand-in Slack: asked for (optionally) only in a workspace with a CRM, refused under its field
when it isn't an email, kept with the change, and shown to no one in Slack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from bot.delivery.webhooks import payload
from bot.intro.clock import ManualClock
from bot.intro.states import Status
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import CrmConnection, IntroRequest, RequestEvent
from tests.handlers.flow import CONNECTOR, REQUESTER, card_text, press, request_intro
from tests.handlers.test_outside_connectors import ask_dana, current

TEAM = "T0FAKE"
EMAIL = "jane.doe@acme.example"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def connect_crm(stack: LocalStack) -> None:
    """An admin connected the workspace's CRM (what the connection holds doesn't matter here)."""
    assert stack.services is not None
    async with stack.services.sessions.begin() as session:
        session.add(
            CrmConnection(
                team_id=TEAM,
                vendor="hubspot",
                credentials="sealed",
                connected_by="U0ADMIN",
                connected_at=stack.services.clock.now(),
            )
        )


async def accepted(stack: LocalStack) -> dict:
    """The connector's card once they accepted: "They agreed: intro made" is on it."""
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(
        lambda: any(
            b.get("block_id") == "target_answer_actions"
            for b in stack.fake.messages_for(CONNECTOR)[0]["blocks"]
        ),
        "the card with the target's answers",
    )
    return stack.fake.messages_for(CONNECTOR)[0]


async def the_request(stack: LocalStack) -> IntroRequest:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        request = await session.scalar(select(IntroRequest))
    assert request is not None
    return request


async def opened_modal(stack: LocalStack, user: str, message: dict, action_id: str) -> dict:
    before = stack.fake.count("views.open")
    await press(stack, user, message, action_id)
    await stack.until(lambda: stack.fake.count("views.open") > before, "the modal")
    call = stack.fake.calls_to("views.open")[-1]
    assert call.ok, call.error
    view: dict = call.args["view"]
    return view


async def submit(stack: LocalStack, user: str, modal: dict, email: str) -> tuple[int, str]:
    assert stack.slack is not None
    values = {"target_email": email} if email else {}
    return await stack.slack.interaction(payloads.view_submission(user, modal, values))


def email_field(modal: dict) -> dict:
    return next(b for b in modal["blocks"] if b.get("block_id") == "target_email")


async def test_without_a_crm_the_intro_is_made_at_once_and_no_email_is_asked(
    stack: LocalStack,
) -> None:
    card = await accepted(stack)
    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, card, "intro_target_agreed")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 3, "the notice")
    assert "agreed" in card_text(stack.fake.messages_for(REQUESTER)[-1])
    assert stack.fake.count("views.open") == opened
    request = await the_request(stack)
    assert (request.status, request.target_email) == (Status.INTRO_MADE, None)


async def test_with_a_crm_the_connector_may_give_the_targets_email(stack: LocalStack) -> None:
    await connect_crm(stack)
    card = await accepted(stack)
    modal = await opened_modal(stack, CONNECTOR, card, "intro_target_agreed")
    assert modal["callback_id"] == "intro_made_modal"
    field = email_field(modal)
    assert field["optional"] is True
    assert field["label"]["text"] == "Their email, for the team's CRM"
    assert field["element"]["type"] == "email_text_input"
    assert "<@U0REQUESTER>" in card_text(modal)
    # Nothing changes until they press Intro made.
    assert (await the_request(stack)).status == Status.CHECKING_WITH_TARGET

    status, body = await submit(stack, CONNECTOR, modal, f" {EMAIL.upper()}")
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 3, "the notice")
    await stack.sends_recorded()
    request = await the_request(stack)
    assert (request.status, request.target_email) == (Status.INTRO_MADE, EMAIL)
    assert request.intro_made_at is not None


async def test_a_malformed_email_is_refused_under_its_field(stack: LocalStack) -> None:
    await connect_crm(stack)
    card = await accepted(stack)
    modal = await opened_modal(stack, CONNECTOR, card, "intro_target_agreed")
    for typed, problem in (
        ("jane at acme", "That doesn't look like an email address."),
        ("j" * 250 + "@acme.com", "The email is 259 characters; keep it to 254."),
    ):
        status, body = await submit(stack, CONNECTOR, modal, typed)
        assert status == 200
        assert json.loads(body) == {
            "response_action": "errors",
            "errors": {"target_email": problem},
        }
    request = await the_request(stack)
    assert (request.status, request.target_email) == (Status.CHECKING_WITH_TARGET, None)
    # Left empty, the intro is made without it.
    status, body = await submit(stack, CONNECTOR, modal, "")
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 3, "the notice")
    request = await the_request(stack)
    assert (request.status, request.target_email) == (Status.INTRO_MADE, None)


async def test_a_crm_named_in_the_settings_asks_for_it_too(database_url: str) -> None:
    settings = {"INTROBOT_HUBSPOT_TOKEN": "pat-na1-0000"}
    async with LocalStack(database_url, settings=settings) as stack:
        card = await accepted(stack)
        modal = await opened_modal(stack, CONNECTOR, card, "intro_target_agreed")
        assert email_field(modal)


async def test_a_crm_disconnected_before_the_press_keeps_nothing(stack: LocalStack) -> None:
    await connect_crm(stack)
    card = await accepted(stack)
    modal = await opened_modal(stack, CONNECTOR, card, "intro_target_agreed")
    assert stack.services is not None
    async with stack.services.sessions.begin() as session:
        await session.execute(delete(CrmConnection))
    status, body = await submit(stack, CONNECTOR, modal, EMAIL)
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 3, "the notice")
    request = await the_request(stack)
    assert (request.status, request.target_email) == (Status.INTRO_MADE, None)


async def test_a_stale_press_is_told_and_opens_nothing(stack: LocalStack) -> None:
    await connect_crm(stack)
    card = await accepted(stack)
    modal = await opened_modal(stack, CONNECTOR, card, "intro_target_agreed")
    await submit(stack, CONNECTOR, modal, EMAIL)
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 3, "the notice")
    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, card, "intro_target_agreed")  # the old card, pressed again
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") >= 1, "the refusal")
    assert stack.fake.count("views.open") == opened


async def test_the_requester_of_an_outside_connector_may_give_it_too(stack: LocalStack) -> None:
    await connect_crm(stack)
    card = await ask_dana(stack)
    await press(stack, REQUESTER, card, "intro_outside_agreed")
    card = await current(stack, card)
    modal = await opened_modal(stack, REQUESTER, card, "intro_outside_target_agreed")
    assert "Dana" in card_text(modal) and "<@" not in card_text(modal)
    status, body = await submit(stack, REQUESTER, modal, EMAIL)
    assert (status, body) == (200, "")
    assert stack.services is not None
    await stack.services.work.drain()
    request = await the_request(stack)
    assert (request.status, request.target_email) == (Status.INTRO_MADE, EMAIL)


async def open_home(stack: LocalStack, user: str) -> None:
    assert stack.slack is not None
    published = stack.fake.count("views.publish")
    await stack.slack.event(payloads.app_home_opened(user))
    await stack.until(lambda: stack.fake.count("views.publish") > published, "the Home tab")


def everything_sent(stack: LocalStack) -> str:
    return json.dumps([call.args for call in stack.fake.calls])


async def test_no_one_sees_the_email_in_slack(stack: LocalStack, clock: ManualClock) -> None:
    await connect_crm(stack)
    card = await accepted(stack)
    modal = await opened_modal(stack, CONNECTOR, card, "intro_target_agreed")
    await submit(stack, CONNECTOR, modal, EMAIL)
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 3, "the notice")
    assert stack.services is not None
    services = stack.services
    # The follow-ups that come after an intro, each person's Home tab, the funnel.
    for _ in range(4):
        clock.advance(timedelta(days=2))
        await services.work.drain()
        while await services.dispatcher.sweep():
            pass
    for user in (REQUESTER, CONNECTOR):
        await open_home(stack, user)
    await stack.sends_recorded()
    request = await the_request(stack)
    assert request.target_email == EMAIL
    sent = everything_sent(stack)
    assert EMAIL not in sent.lower() and "jane.doe" not in sent.lower()
    # Nor what introbot hands on: the CSV export, the webhook's body.
    assert EMAIL not in await services.attribution.export_csv(TEAM, {})
    async with services.sessions() as session:
        events = (await session.scalars(select(RequestEvent))).all()
    bodies: list[dict[str, Any]] = [payload(request, event, None) for event in events]
    assert EMAIL not in json.dumps(bodies, default=str)
