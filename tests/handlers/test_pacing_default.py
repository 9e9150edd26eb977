"""Every connector has limits from the start: the workspace's default until they set their own,
set by an admin with `/intro pacing default`, and shown in the form before they are hit."""

from __future__ import annotations

import json

from bot.intro.people import Teammate
from bot.intro.validation import RequestDraft
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    as_opened,
    card_text,
    good_values,
    open_intro_modal,
    submit,
)

ADMIN = "U0ADMIN"


async def _asks_to(stack: LocalStack, connector: str, count: int) -> None:
    """`count` open asks for `connector`, from a teammate, for other people."""
    assert stack.services is not None
    for n in range(count):
        draft = RequestDraft(
            requester=Teammate(OTHER, "Olivia Chen"),
            connector=Teammate(connector, "Carlos Mendes"),
            target_name=f"Person {chr(65 + n)} Example",
            target_company="Globex",
            reason="We cut freight costs by a third for teams like theirs.",
            blurb="b",
        )
        await stack.services.workflow.submit("T0FAKE", draft, [])


async def _command(stack: LocalStack, user: str, text: str) -> str:
    assert stack.slack is not None
    replies = len(stack.fake.responses)
    fields = payloads.slash_command(
        user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
    )
    status, _ = await stack.slack.command(fields)
    assert status == 200
    await stack.until(lambda: len(stack.fake.responses) > replies, "the reply")
    return str(stack.fake.responses[-1]["body"]["text"])


async def _pick_connector(stack: LocalStack, view: dict, connector: str) -> dict:
    """Pick a connector in the open form; the form as introbot updates it."""
    assert stack.slack is not None
    before = stack.fake.count("views.update")
    view = as_opened(stack, view)
    action = {
        "action_id": "value",
        "block_id": "connector",
        "type": "users_select",
        "selected_user": connector,
    }
    await stack.slack.interaction(
        payloads.view_action(REQUESTER, view, action, {"connector": connector})
    )
    await stack.until(lambda: stack.fake.count("views.update") > before, "the form updated")
    call = stack.fake.calls_to("views.update")[-1]
    assert call.ok, call.error
    return {**call.args["view"], "id": call.args["view_id"]}


def _pacing_note(view: dict) -> str | None:
    block = next((b for b in view["blocks"] if b.get("block_id") == "pacing_note"), None)
    return block["elements"][0]["text"] if block else None


async def test_picking_a_connector_near_the_default_limit_says_so_in_words(
    stack: LocalStack,
) -> None:
    await _asks_to(stack, CONNECTOR, 2)
    view = await open_intro_modal(stack)
    shown = await _pick_connector(stack, view, CONNECTOR)
    assert _pacing_note(shown) == (
        f":hourglass_flowing_sand: <@{CONNECTOR}> has 2 open asks and takes 3 at a time: "
        "yours would be the last for now."
    )
    # Right under the connector field.
    ids = [b.get("block_id") for b in shown["blocks"]]
    assert ids.index("pacing_note") == ids.index(f"connector:{CONNECTOR}") + 1
    # Still under the limit: the ask goes.
    status, body = await submit(stack, shown, good_values())
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "requester card")
    assert "their limit" not in card_text(stack.fake.messages_for(REQUESTER)[0])


async def test_a_connector_with_nothing_open_gets_no_note(stack: LocalStack) -> None:
    view = await open_intro_modal(stack)
    shown = await _pick_connector(stack, view, CONNECTOR)
    assert _pacing_note(shown) is None


async def test_a_connector_who_never_set_limits_is_held_to_the_default(stack: LocalStack) -> None:
    await _asks_to(stack, CONNECTOR, 3)
    view = await open_intro_modal(stack)
    shown = await _pick_connector(stack, view, CONNECTOR)
    assert _pacing_note(shown) is None  # hit: the form's warning says it instead
    assert f"<@{CONNECTOR}> already has 3 open asks, their limit." in json.dumps(shown)
    # Gentle (the default mode): it goes, with the warning in the confirmation.
    status, body = await submit(stack, shown, good_values())
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "requester card")
    tips = card_text(stack.fake.messages_for(REQUESTER)[0])
    assert "Carlos Mendes already has 3 open asks, their limit." in tips


async def test_strict_pacing_refuses_an_ask_over_the_default(stack: LocalStack) -> None:
    await _asks_to(stack, CONNECTOR, 3)
    assert "blocked" in await _command(stack, ADMIN, "pacing strict")
    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values())
    assert status == 200
    errors = json.loads(body)["errors"]
    assert errors["connector"] == "Carlos Mendes already has 3 open asks, their limit."
    assert stack.fake.messages_for(CONNECTOR) == []


async def test_an_admin_sets_the_default_and_it_holds_at_once(stack: LocalStack) -> None:
    await _asks_to(stack, CONNECTOR, 3)
    await _command(stack, ADMIN, "pacing strict")
    reply = await _command(stack, ADMIN, "pacing default 5 open 10 per 30 days")
    assert reply == (
        ":hourglass_flowing_sand: Every connector who hasn't set their own limits now takes "
        "at most 5 open asks at a time and at most 10 asks in 30 days. Each can change theirs "
        "in *How often to ask me* on introbot's Home tab."
    )
    view = await open_intro_modal(stack)
    shown = await _pick_connector(stack, view, CONNECTOR)
    assert "has 3 open asks and takes 5 at a time." in (_pacing_note(shown) or "")
    status, body = await submit(stack, shown, good_values())
    assert (status, body) == (200, "")
    # One half at a time; off is no limit.
    reply = await _command(stack, ADMIN, "pacing default 8 per 30 days")
    assert "at most 5 open asks at a time and at most 8 asks in 30 days" in reply
    reply = await _command(stack, ADMIN, "pacing default off")
    assert "any number of open asks and any number of asks in 30 days" in reply
    shown = await _command(stack, ADMIN, "pacing default")
    assert shown.startswith(
        ":hourglass_flowing_sand: A connector who hasn't set their own limits takes any number"
    )
    assert "`/intro pacing default 3 open 6 per 30 days`" in shown


async def test_pacing_default_is_for_admins_and_explains_what_it_cannot_read(
    stack: LocalStack,
) -> None:
    reply = await _command(stack, REQUESTER, "pacing default 5 open")
    assert reply == "Only workspace admins can do that."
    reply = await _command(stack, ADMIN, "pacing default lots")
    assert reply.startswith("I couldn't read that. Set the default like this:")
    assert "up to 100 open and 1000 in 30 days" in reply
    assert stack.services is not None
    assert await stack.services.directory.workspace_pacing("T0FAKE") == (
        await stack.services.directory.workspace_pacing("T0NONE")
    )  # nothing stored: introbot's default still


async def test_how_often_to_ask_me_shows_the_default_and_a_connectors_own_wins(
    stack: LocalStack,
) -> None:
    assert stack.slack is not None
    await _command(stack, ADMIN, "pacing default 4 open 9 per 30 days")
    payload = payloads.block_action(
        CONNECTOR, "intro_pacing_open", "", stack.fake.issue_trigger_id(CONNECTOR), on_home=True
    )
    await stack.slack.interaction(payload)
    await stack.until(lambda: stack.fake.count("views.open") == 1, "the modal")
    modal = stack.fake.calls_to("views.open")[0].args["view"]
    text = json.dumps(modal, ensure_ascii=False)
    assert "Left blank, the workspace's default holds: 4 open asks at a time, 9 in 30 days." in text
    limit = next(b for b in modal["blocks"] if b.get("block_id") == "max_open")
    assert limit["element"]["placeholder"]["text"] == "4 (the workspace's default)"
    assert "initial_value" not in limit["element"]
    # The connector takes more than the default: their own number holds.
    status, _ = await stack.slack.interaction(
        payloads.view_submission(CONNECTOR, modal, {"max_open": "6"})
    )
    assert status == 200
    await _asks_to(stack, CONNECTOR, 5)
    view = await open_intro_modal(stack)
    shown = await _pick_connector(stack, view, CONNECTOR)
    assert "has 5 open asks and takes 6 at a time: yours would be the last for now." in (
        _pacing_note(shown) or ""
    )


async def test_pacing_alone_says_how_to_set_the_default_too(stack: LocalStack) -> None:
    assert stack.slack is not None
    fields = payloads.slash_command(ADMIN, "pacing", stack.fake.issue_trigger_id(ADMIN))
    status, body = await stack.slack.command(fields)
    assert status == 200
    assert "`/intro pacing default 3 open 6 per 30 days` sets every connector's limits" in body
