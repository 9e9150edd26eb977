"""Listeners called as plain functions, without HTTP or Bolt: a context carrying the
services and the actor, an ack that records what it was given."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncBoltContext

from bot.rendering import messages
from bot.rendering.ids import ActionId
from bot.services.container import Services
from bot.standin.stack import LocalStack
from handlers import buttons, commands, details, errors, request_form
from handlers.context import SERVICES, ProvideServices, actor_of
from tests.bot.rendering.test_templating import make_request
from tests.handlers.flow import CONNECTOR, REQUESTER, good_values

TEAM = "T0FAKE"
LOG = logging.getLogger(__name__)


class Ack:
    """Records each ack's arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class Respond:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def context_for(services: Services | None, user_id: str = REQUESTER) -> AsyncBoltContext:
    return AsyncBoltContext({SERVICES: services, "user_id": user_id, "team_id": TEAM})


def filled_form(values: dict[str, str]) -> dict[str, Any]:
    """The request form, as Slack sends its state on submission."""
    view = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())
    state = {}
    for field, value in values.items():
        key = "selected_user" if field == "connector" else "value"
        if field == "closeness":
            state[field] = {"value": {"selected_option": {"value": value}}}
        else:
            state[field] = {"value": {key: value}}
    return {**view, "id": "V0TEST", "state": {"values": state}}


async def test_help_is_the_ack_itself_in_a_dm_and_elsewhere() -> None:
    for channel, in_dm in (("D0DM", True), ("C0CHANNEL", False)):
        ack, respond = Ack(), Respond()
        body = {"text": "help", "channel_id": channel, "user_id": REQUESTER}
        await commands.intro_command(
            ack,
            body,
            context_for(None),
            None,
            respond,
            LOG,
        )
        assert ack.calls == [{"text": messages.command_reply("help", in_dm=in_dm)}]
        assert respond.calls == []


async def test_an_owner_edit_left_blank_is_refused_in_the_form_before_anything_else() -> None:
    ack = Ack()
    view = {
        **messages.owner_edit_modal(make_request()),
        "state": {"values": {"blurb": {"value": {"value": "  "}}}},
    }
    await details.one_field_submitted(ack, {}, view, context_for(None), None)
    assert len(ack.calls) == 1
    assert ack.calls[0]["response_action"] == "errors"
    assert set(ack.calls[0]["errors"]) == {"blurb"}


async def test_a_button_naming_no_request_is_refused_privately(stack: LocalStack) -> None:
    assert stack.services is not None
    ack = Ack()
    body = {"channel": {"id": "D0REQ"}, "container": {"channel_id": "D0REQ"}}
    action = {"action_id": ActionId.CANCEL.value, "value": "not-a-request"}
    await buttons.direct_action(
        ack, body, action, context_for(stack.services), stack.services.client
    )
    assert ack.calls == [{}]
    (note,) = stack.fake.calls_to("chat.postEphemeral")
    assert note.args["user"] == REQUESTER
    assert note.args["text"] == messages.note("unknown")


async def test_a_form_asking_oneself_is_answered_with_errors_and_nothing_is_stored(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    ack = Ack()
    view = filled_form(good_values(connector=REQUESTER))
    await request_form.intro_request_submitted(
        ack, view, context_for(stack.services), stack.services.client
    )
    (answer,) = ack.calls
    assert answer["response_action"] == "errors"
    assert any(key.startswith("connector") for key in answer["errors"])
    assert await stack.services.workflow.requests_by(TEAM, REQUESTER) == []


async def test_a_good_form_is_acked_then_stored_and_sent(stack: LocalStack) -> None:
    assert stack.services is not None
    ack = Ack()
    view = filled_form(good_values())
    await request_form.intro_request_submitted(
        ack, view, context_for(stack.services), stack.services.client
    )
    assert ack.calls == [{}]
    (request,) = await stack.services.workflow.requests_by(TEAM, REQUESTER)
    assert request.connector_id == CONNECTOR
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")


async def test_the_middleware_names_the_payloads_team_when_bolt_found_none() -> None:
    services = object()
    context = AsyncBoltContext({"user_id": REQUESTER})
    calls: list[bool] = []

    async def next_() -> None:
        calls.append(True)

    await ProvideServices(services)({"team_id": TEAM}, context, next_)
    assert calls == [True]
    assert context[SERVICES] is services
    assert actor_of(context).team_id == TEAM and actor_of(context).user_id == REQUESTER


async def test_work_that_failed_after_the_ack_is_told_to_whoever_pressed(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    body = {
        "type": "block_actions",
        "user": {"id": REQUESTER},
        "channel": {"id": "D0REQ"},
        "container": {"channel_id": "D0REQ"},
    }
    failure = RuntimeError("the database went away")
    await errors.work_failed(failure, body, context_for(stack.services), stack.services.client, LOG)
    (note,) = stack.fake.calls_to("chat.postEphemeral")
    assert note.args["user"] == REQUESTER
    assert note.args["text"] == messages.note("work_failed")
